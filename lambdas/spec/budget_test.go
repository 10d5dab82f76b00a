package spec

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
)

// costs are the state machine's (statemachine.TestCostsOfEachLoop pins the
// same numbers).
var costs = EventCosts{Fixed: 37, ReadyPoll: 9, Check: 9, Analysis: 16, Shift: 5, HookRun: 7, HookWait: 9, HookInvoke: 12}

// budgetSpec is a canary on App Mesh: 25% steps of 60 s, analysed every
// 60 s, pods checked every 5 s, ready within 600 s.
func budgetSpec(change func(*Spec)) Spec {
	s := Spec{
		ClusterName: "c", Namespace: "yelb", Microservice: "shop", ContainerImage: "registry.local/shop:2", ConfigFile: templateB64,
		Router: contract.RouterAppMesh, PercentageStep: 25, WaitTime: 60, FailureThresholdTime: 300,
	}
	if change != nil {
		change(&s)
	}
	return s.WithDefaults()
}

func limits(plan ...int) Limits {
	return Limits{Timeout: contract.DefaultRolloutTimeout, Settle: contract.AppMeshSettleTime, Costs: costs, Plan: plan}
}

func intPtr(v int) *int { return &v }

func gate(point string, timeout, retries, hold int) Hook {
	return Hook{Name: "gate", Point: point, Kind: HookHTTP, URL: "http://gate.test/", Timeout: timeout, Retries: intPtr(retries), Hold: hold}
}

func TestWorstCase(t *testing.T) {
	canary := []int{25, 50, 75, 100}
	cases := []struct {
		name    string
		spec    Spec
		limits  Limits
		seconds int
		events  int
		top     string // the largest part of the seconds
	}{
		{
			// Readiness 120 polls of 5 s; three steps and 100% each one
			// analysis after 60 s, with 11 checks before it.
			name: "canary", spec: budgetSpec(nil), limits: limits(canary...),
			seconds: 600 + 3*60 + 60, events: 37 + 120*9 + 4*5 + 4*16 + 4*11*9, top: "progress_deadline",
		},
		{
			// VPC Lattice: no analysis sooner than 90 s after the last.
			name: "gatewayapi settles 90 s", limits: Limits{Timeout: contract.DefaultRolloutTimeout, Settle: contract.LatticeSettleTime, Costs: costs, Plan: canary},
			spec:    budgetSpec(func(s *Spec) { s.Router, s.WaitTime = contract.RouterGatewayAPI, 90 }),
			seconds: 600 + 3*90 + 90, events: 37 + 120*9 + 4*5 + 4*16 + 4*17*9, top: "progress_deadline",
		},
		{
			// Steps of 100 s analysed every 60 s: at 60 and 100.
			name: "a step ends on time", limits: limits(50, 100),
			spec:    budgetSpec(func(s *Spec) { s.PercentageStep, s.WaitTime = 50, 100 }),
			seconds: 600 + 100 + 60, events: 37 + 120*9 + 2*5 + 3*16 + (11+7+11)*9, top: "progress_deadline",
		},
		{
			// The preview for wait_time, the bake in 60 s analyses, then
			// the old version kept for 600 s more.
			name: "blue-green", limits: limits(0, 100),
			spec: budgetSpec(func(s *Spec) {
				s.Strategy, s.PercentageStep, s.BakeTime, s.ScaleDownDelay = StrategyBlueGreen, 0, 300, intPtr(900)
			}),
			seconds: 600 + 60 + 300 + 900, events: 37 + 120*9 + 2*5 + (1+5+15)*16 + 21*11*9, top: "scale_down_delay",
		},
		{
			name: "A/B stage", limits: limits(0, 50, 100),
			spec: budgetSpec(func(s *Spec) {
				s.PercentageStep, s.AB = 50, AB{Headers: []HeaderMatch{{Name: "x-canary", Value: "always"}}, Duration: 1800}
			}),
			seconds: 600 + 1800 + 60 + 60, events: 37 + 120*9 + 3*5 + (30+1+1)*16 + 32*11*9, top: "ab.duration",
		},
		{
			// Three gates held up to an hour: asked 60 times each, every
			// 60 s plus the 32 s the call may take.
			name: "confirm_traffic held", limits: limits(canary...),
			spec:    budgetSpec(func(s *Spec) { s.Hooks = []Hook{gate(HookConfirmTraffic, 10, 2, 3600)} }),
			seconds: 840 + 3*(32+59*(60+32)), events: 37 + 120*9 + 4*5 + 4*16 + 3*(7+59*(16+7)) + contract.MaxPodChecks*9, top: "hooks[0].hold",
		},
		{
			// Polled every 5 s up to its timeout: 120 looks at 9 events.
			name: "Job hook", limits: limits(canary...),
			spec: budgetSpec(func(s *Spec) {
				s.Hooks = []Hook{{Name: "migrate", Point: HookPreTraffic, Kind: HookJob, Job: "migrate", Timeout: 600}}
			}),
			seconds: 840 + 600, events: 1597 + 7 + 120*9, top: "hooks[0].timeout",
		},
		{
			// The function's run time is not known; its states are.
			name: "Lambda hook", limits: limits(canary...),
			spec: budgetSpec(func(s *Spec) {
				s.Hooks = []Hook{{Name: "notify", Point: HookPostRollout, Kind: HookLambda, Function: "arn:aws:lambda:us-west-2:123456789012:function:n"}}
			}),
			seconds: 840, events: 1597 + 7 + 12, top: "progress_deadline",
		},
		{
			// Held for an operator until the timeout: 6420 s left, one
			// analysis a minute and the checks between them.
			name: "manual promotion", limits: limits(25, 50, 100),
			spec:    budgetSpec(func(s *Spec) { s.PercentageStep, s.MaxWeight, s.ManualPromotion = 25, 50, true }),
			seconds: 600 + 2*60 + 60, events: 37 + 120*9 + 3*5 + 3*16 + 107*16 + contract.MaxPodChecks*9, top: "progress_deadline",
		},
		{
			name: "in place", limits: limits(100),
			spec:    budgetSpec(func(s *Spec) { s.Strategy, s.BakeTime = StrategyInPlace, 1200 }),
			seconds: 600 + 1200, events: 37 + 120*9 + 5 + 20*16 + 20*11*9, top: "bake_time",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			secs, parts := WorstCaseSeconds(c.spec, c.limits)
			if secs != c.seconds {
				t.Errorf("WorstCaseSeconds = %d, want %d (parts %+v)", secs, c.seconds, parts)
			}
			if len(parts) == 0 || parts[0].Field != c.top {
				t.Errorf("largest part %+v, want %s", parts, c.top)
			}
			if events, parts := WorstCaseEvents(c.spec, c.limits); events != c.events {
				t.Errorf("WorstCaseEvents = %d, want %d (parts %+v)", events, c.events, parts)
			}
		})
	}
}

func TestValidateWithinRefusesWhatDoesNotFit(t *testing.T) {
	canary := limits(25, 50, 75, 100)
	cases := []struct {
		name   string
		spec   Spec
		limits Limits
		want   []string // substrings of the message; none: accepted
	}{
		{name: "the canary fits", spec: budgetSpec(nil), limits: canary},
		{
			name: "a long hold", limits: canary,
			spec: budgetSpec(func(s *Spec) { s.Hooks = []Hook{gate(HookConfirmTraffic, 10, 2, 36000)} }),
			want: []string{"hooks[0].hold: 36000 makes the rollout's worst case ", "longer than the stack's rolloutTimeoutSeconds (7200 s) allows: 6900 s",
				"lower hooks[0].hold to at most 1320", "or raise the stack's rolloutTimeoutSeconds to at least"},
		},
		{
			// 3 × (32 + 34 × 92) s + 840 s = 10320 s, one second too many
			// with a timeout of 10619 s.
			name: "misses by one second", spec: budgetSpec(func(s *Spec) { s.Hooks = []Hook{gate(HookConfirmTraffic, 10, 2, 2100)} }),
			limits: Limits{Timeout: 10619 * time.Second, Settle: canary.Settle, Costs: costs, Plan: canary.Plan},
			want:   []string{"hooks[0].hold: 2100 makes the rollout's worst case 10320 s", "allows: 10319 s", "at least 10620"},
		},
		{
			name: "fits at the edge", spec: budgetSpec(func(s *Spec) { s.Hooks = []Hook{gate(HookConfirmTraffic, 10, 2, 2100)} }),
			limits: Limits{Timeout: 10620 * time.Second, Settle: canary.Settle, Costs: costs, Plan: canary.Plan},
		},
		{
			// 1334 analyses of 16 events and the check budget: within
			// the time, beyond the history.
			name: "events of a long bake", limits: Limits{Timeout: 86400 * time.Second, Settle: canary.Settle, Costs: costs, Plan: canary.Plan},
			spec: budgetSpec(func(s *Spec) { s.BakeTime = 80000 }),
			want: []string{"bake_time: 80000 makes the rollout's worst case 31529 Step Functions history events, more than the 24000 an execution may use (25000, less 1000 kept for retries and the roll back)",
				"lower bake_time to at most 51780", "analysis.pod_check_interval 5 adds 9000 events"},
		},
		{
			name: "a hold for an operator on a long timeout", limits: Limits{Timeout: 86400 * time.Second, Settle: canary.Settle, Costs: costs, Plan: []int{50, 100}},
			spec: budgetSpec(func(s *Spec) { s.PercentageStep, s.MaxWeight, s.ManualPromotion = 50, 50, true }),
			want: []string{"manual_promotion: true makes the rollout's worst case", "raise analysis.interval, or lower the stack's rolloutTimeoutSeconds"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.ValidateWithin(c.limits)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var invalid *ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v, want a *ValidationError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// The largest value a refusal offers fits, and one more does not.
func TestSuggestedValueIsTheLargestThatFits(t *testing.T) {
	l := limits(25, 50, 75, 100)
	held := func(hold int) Spec {
		return budgetSpec(func(s *Spec) { s.Hooks = []Hook{gate(HookConfirmTraffic, 10, 2, hold)} })
	}
	_, parts := WorstCaseSeconds(held(36000), l)
	v, ok := held(36000).fits(parts[0].lever, func(s Spec) bool { n, _ := WorstCaseSeconds(s, l); return n <= SecondsAllowed(l.Timeout) })
	if !ok {
		t.Fatal("no hold fits")
	}
	if err := held(v).ValidateWithin(l); err != nil {
		t.Errorf("hold %d refused: %v", v, err)
	}
	if err := held(v + 1).ValidateWithin(l); err == nil {
		t.Errorf("hold %d accepted: %d was offered as the largest", v+1, v)
	}
}

func TestHookCallBudget(t *testing.T) {
	cases := []struct {
		name             string
		timeout, retries int
		want             string // empty: accepted
	}{
		{"the defaults", DefaultHTTPTimeout, DefaultHTTPRetries, ""},
		{"one request of the longest timeout", MaxHTTPTimeout, 0, ""},
		{"at the budget", 19, 2, ""}, // 57 s and two pauses
		{"one second over", 30, 1,
			"hooks[0].timeout: 30 with hooks[0].retries 1 can take 61 s (2 requests of 30 s, 1 s apart): keep one call within 60 s, the engine step's budget for a webhook: lower hooks[0].timeout to at most 29 or hooks[0].retries to at most 0"},
		{"many retries", 20, 5, "lower hooks[0].timeout to at most 9 or hooks[0].retries to at most 1"},
		// Out of range is refused by the range rule alone.
		{"timeout out of range", 90, 0, "hooks[0].timeout: 90 is not allowed: use 1..60 seconds per request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := budgetSpec(func(s *Spec) { s.Hooks = []Hook{gate(HookPreTraffic, c.timeout, c.retries, 0)} })
			err := s.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var invalid *ValidationError
			if !errors.As(err, &invalid) || len(invalid.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if got := invalid.Problems[0].Error(); !strings.Contains(got, c.want) {
				t.Errorf("problem %q lacks %q", got, c.want)
			}
			if worst := HookCallSeconds(c.timeout, c.retries); c.timeout <= MaxHTTPTimeout && worst <= int(contract.HookCallBudget/time.Second) {
				t.Errorf("HookCallSeconds(%d, %d) = %d fits, yet it was refused", c.timeout, c.retries, worst)
			}
		})
	}
}
