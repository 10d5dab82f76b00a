package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

const validateJob = `apiVersion: batch/v1
kind: Job
metadata: {name: shop-smoke}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: smoke, image: "registry.local/smoke:1"}
`

// TestValidateRefusesHooksTheEnvironmentCannotRun: a Lambda function the
// stack does not allow, a Job the template lacks, a Job pod the template
// policy refuses. Nothing is written: Validate runs without a cluster.
func TestValidateRefusesHooksTheEnvironmentCannotRun(t *testing.T) {
	lambdaHook := map[string]any{"name": "approve", "point": "confirm_promotion", "kind": "lambda", "function": "arn:aws:lambda:us-west-2:123456789012:function:approve"}
	jobHook := map[string]any{"name": "smoke", "point": "pre_traffic", "kind": "job", "job": "shop-smoke"}
	tests := []struct {
		name    string
		allowed []string
		hook    map[string]any
		doc     string
		want    []string
		ok      bool
	}{
		{name: "no hook functions allowed", hook: lambdaHook, want: []string{
			`hooks[0].function: "arn:aws:lambda:us-west-2:123456789012:function:approve" may not be invoked by rollouts: this environment allows no Lambda hooks`,
			"add the function's ARN (or a prefix ending in '*') to the stack configuration key " + contract.ConfigHookFunctions, contract.EnvHookFunctions}},
		{name: "another function allowed", allowed: []string{"arn:aws:lambda:us-west-2:123456789012:function:canary-hook-*"}, hook: lambdaHook,
			want: []string{"this environment allows arn:aws:lambda:us-west-2:123456789012:function:canary-hook-*"}},
		{name: "the function allowed by prefix", allowed: []string{"arn:aws:lambda:us-west-2:123456789012:function:app*"}, hook: lambdaHook, ok: true},
		{name: "the function allowed exactly", allowed: []string{"arn:aws:lambda:us-west-2:123456789012:function:approve"}, hook: lambdaHook, ok: true},
		{name: "job not in the template", hook: jobHook, want: []string{
			`hooks[0].job: "shop-smoke" is not a Job of kubernetes_template.yml (it holds no Job): add a document with apiVersion batch/v1, kind Job and metadata.name "shop-smoke"`}},
		{name: "job in the template", hook: jobHook, doc: validateJob, ok: true},
		{name: "another job in the template", hook: map[string]any{"name": "smoke", "point": "pre_traffic", "kind": "job", "job": "acceptance"}, doc: validateJob,
			want: []string{`hooks[0].job: "acceptance" is not a Job of kubernetes_template.yml (its Jobs are shop-smoke)`}},
		{name: "the template policy applies to the Job's pod", hook: jobHook, doc: strings.Replace(validateJob, "      restartPolicy: Never\n", "      restartPolicy: Never\n      hostNetwork: true\n", 1),
			want: []string{"Job/shop-smoke: spec.template.spec.hostNetwork: true is refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := testTemplate(t, contract.RouterGatewayAPI)
			if tt.doc != "" {
				tmpl += "---\n" + tt.doc
			}
			d := goodDeploy(contract.RouterGatewayAPI, tmpl)
			d["hooks"] = []any{tt.hook}
			eng := validator(t, template.Policy{})
			eng.HookFunctions = tt.allowed
			_, err := eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
			if tt.ok {
				if err != nil {
					t.Fatalf("Validate refused: %v", err)
				}
				return
			}
			if engine.ErrorName(err) != statemachine.ErrValidation {
				t.Fatalf("error %v named %s, want %s", err, engine.ErrorName(err), statemachine.ErrValidation)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n%v\nlacks %q", err, want)
				}
			}
		})
	}
}

// TestLocalRunnerRefusesLambdaHooks: only the state machine invokes Lambda
// hooks; the local runner says so before it changes anything.
func TestLocalRunnerRefusesLambdaHooks(t *testing.T) {
	d := goodDeploy(contract.RouterGatewayAPI, testTemplate(t, contract.RouterGatewayAPI))
	d["hooks"] = []any{map[string]any{"name": "approve", "point": "confirm_promotion", "kind": "lambda", "function": "arn:aws:lambda:us-west-2:123456789012:function:approve"}}
	eng := validator(t, template.Policy{})
	eng.HookFunctions = []string{"arn:aws:lambda:us-west-2:123456789012:function:approve"}
	local := &engine.Local{Engine: eng, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err := local.Run(context.Background(), marshal(t, d), "local-1")
	if err == nil || !strings.Contains(err.Error(), "the local runner cannot invoke Lambda hooks (approve): the state machine invokes them") ||
		engine.ErrorName(err) != statemachine.ErrValidation {
		t.Errorf("Run = %v", err)
	}
}
