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

// Validate refuses a plan that cannot finish inside the execution, before
// anything is written. goodDeploy on App Mesh takes at worst 840 s: 600 s
// of readiness, three 60 s steps and 60 s at 100%; on VPC Lattice 960 s
// (90 s steps). Each limit is tried where the plan just fits and one
// second, or one event, beyond.
func TestValidateRefusesPlansBeyondTheExecutionsLimits(t *testing.T) {
	gate := func(point string, fields map[string]any) func(map[string]any) {
		return func(d map[string]any) {
			h := map[string]any{"name": "gate", "point": point, "kind": "http", "url": "https://hooks.example.com/gate"}
			for k, v := range fields {
				h[k] = v
			}
			d["hooks"] = []any{h}
		}
	}
	blueGreen := func(bake, delay int) func(map[string]any) {
		return func(d map[string]any) {
			d["strategy"], d["bake_time"], d["scale_down_delay"] = "blue-green", bake, delay
		}
	}
	const day = 86400 * time.Second
	cases := []struct {
		name    string
		router  string // default appmesh
		change  func(map[string]any)
		timeout time.Duration // the stack's rolloutTimeoutSeconds; zero: the default
		want    []string      // substrings of the refusal; none: accepted
	}{
		{name: "App Mesh fits at the edge", timeout: 1140 * time.Second},
		{name: "App Mesh misses by one second", timeout: 1139 * time.Second, want: []string{
			"progress_deadline: 600 makes the rollout's worst case 840 s, longer than the stack's rolloutTimeoutSeconds (1139 s) allows: 839 s",
			"lower progress_deadline to at most 595", "raise the stack's rolloutTimeoutSeconds to at least 1140"}},
		{name: "VPC Lattice fits at the edge", router: contract.RouterGatewayAPI, timeout: 1260 * time.Second},
		{name: "VPC Lattice misses by one second", router: contract.RouterGatewayAPI, timeout: 1259 * time.Second,
			want: []string{"worst case 960 s", "at least 1260"}},

		// Three confirm_traffic gates, each held up to its hold and asked
		// every 60 s plus the 32 s a call may take.
		{name: "the default hold does not fit the default timeout", change: gate("confirm_traffic", nil), want: []string{
			"hooks[0].hold: 3600 makes the rollout's worst case 17220 s", "rolloutTimeoutSeconds (7200 s)",
			"lower hooks[0].hold to at most 1320", "at least 17520"}},
		{name: "the default hold fits a longer timeout", change: gate("confirm_traffic", nil), timeout: 17520 * time.Second},
		{name: "the default hold misses by one second", change: gate("confirm_traffic", nil), timeout: 17519 * time.Second,
			want: []string{"hooks[0].hold: 3600", "at least 17520"}},
		{name: "a ten-hour hold fits no timeout", change: gate("confirm_traffic", map[string]any{"hold": 36000}), timeout: day,
			want: []string{"hooks[0].hold: 36000 makes the rollout's worst case 166260 s", "rolloutTimeoutSeconds (86400 s)"}},

		{name: "a day-long A/B stage", change: func(d map[string]any) {
			d["ab"] = map[string]any{"duration": 86400, "headers": []any{map[string]any{"name": "x-canary", "value": "always"}}}
		}, want: []string{"ab.duration: 86400 makes the rollout's worst case 87240 s", "rolloutTimeoutSeconds"}},
		{name: "blue-green keeping the old version a day", change: blueGreen(3600, 86400),
			want: []string{"scale_down_delay: 86400 makes the rollout's worst case 90660 s", "lower scale_down_delay to at most 2640"}},
		{name: "blue-green fits at the edge", change: blueGreen(3600, 2640)},
		{name: "blue-green misses by one second", change: blueGreen(3600, 2641), want: []string{
			"bake_time: 3600 makes the rollout's worst case 6905 s", "scale_down_delay 2641 adds 2645 s", "at least 7205"}},

		// Readiness polls cost nine events each: 2609 of them and the
		// rest of the plan use 23998 of the 24000 events a plan may use.
		{name: "readiness fits the history at the edge", change: func(d map[string]any) { d["progress_deadline"] = 13045 }, timeout: day},
		{name: "readiness misses the history by one poll", change: func(d map[string]any) { d["progress_deadline"] = 13046 }, timeout: day, want: []string{
			"progress_deadline: 13046 makes the rollout's worst case 24007 Step Functions history events, more than the 24000 an execution may use",
			"lower progress_deadline to at most 13045"}},
		{name: "a hold for an operator fits the default timeout", change: func(d map[string]any) { d["manual_promotion"] = true }},
		{name: "a hold for an operator polls a day", change: func(d map[string]any) { d["manual_promotion"] = true }, timeout: day, want: []string{
			"manual_promotion: true makes the rollout's worst case 33017 Step Functions history events", "raise analysis.interval"}},

		// One webhook call within the step's 60 s: attempts and the
		// pauses between them.
		{name: "one request of 60 s", change: gate("pre_traffic", map[string]any{"timeout": 60, "retries": 0})},
		{name: "three requests of 19 s", change: gate("pre_traffic", map[string]any{"timeout": 19, "retries": 2})},
		{name: "three requests of 20 s", change: gate("pre_traffic", map[string]any{"timeout": 20, "retries": 2}), want: []string{
			"hooks[0].timeout: 20 with hooks[0].retries 2 can take 62 s (3 requests of 20 s, 1 s apart): keep one call within 60 s",
			"lower hooks[0].timeout to at most 19 or hooks[0].retries to at most 1"}},
		{name: "two requests of 30 s", change: gate("pre_traffic", map[string]any{"timeout": 30, "retries": 1}), want: []string{
			"hooks[0].timeout: 30 with hooks[0].retries 1 can take 61 s", "hooks[0].retries to at most 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			router := c.router
			if router == "" {
				router = contract.RouterAppMesh
			}
			d := goodDeploy(router, testTemplate(t, router))
			if c.change != nil {
				c.change(d)
			}
			v := validator(t, template.Policy{})
			v.RolloutTimeout = c.timeout
			_, err := v.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if name := engine.ErrorName(err); name != statemachine.ErrValidation {
				t.Errorf("error name %q, want %q: %v", name, statemachine.ErrValidation, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
