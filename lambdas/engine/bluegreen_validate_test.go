package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// Validate refuses a blue-green rollout its template cannot carry, naming
// the object and the fix, without touching a cluster; the test templates of
// both routers pass.
func TestValidateBlueGreenTemplates(t *testing.T) {
	tcp := strings.Replace(testTemplate(t, "appmesh"), "      httpRoute:\n        match: {prefix: /}\n", "      tcpRoute:\n", 1)
	if tcp == testTemplate(t, "appmesh") {
		t.Fatal("testdata/appmesh.yml no longer has the httpRoute this test replaces")
	}
	cases := []struct {
		name, router, tmpl string
		want               []string
	}{
		{"app mesh", "appmesh", testTemplate(t, "appmesh"), nil},
		{"gateway api", "gatewayapi", testTemplate(t, "gatewayapi"), nil},
		{"tcp route", "appmesh", tcp, []string{"cannot be rolled out with strategy blue-green", "VirtualRouter yelb/shop has no httpRoute or http2Route", `use strategy "canary"`}},
		{"in-place template", "appmesh", testTemplate(t, "inplace"), []string{"cannot be rolled out with strategy blue-green", "must be named after its version"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := goodDeploy(c.router, c.tmpl)
			d["strategy"] = "blue-green"
			_, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if engine.ErrorName(err) != statemachine.ErrValidation {
				t.Fatalf("error %v (%s), want %s", err, engine.ErrorName(err), statemachine.ErrValidation)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
