package engine_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/analysis/cloudwatch"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// cloudWatchAlarms is CloudWatch's DescribeAlarms over the alarms a test
// sets: the engine reads them through the real AlarmSource.
type cloudWatchAlarms struct {
	mu        sync.Mutex
	metric    map[string]types.MetricAlarm
	composite map[string]types.CompositeAlarm
	log       map[string]types.LogAlarm
	calls     int
}

func (c *cloudWatchAlarms) DescribeAlarms(_ context.Context, in *cw.DescribeAlarmsInput, _ ...func(*cw.Options)) (*cw.DescribeAlarmsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	out := &cw.DescribeAlarmsOutput{}
	for _, name := range in.AlarmNames {
		if a, ok := c.metric[name]; ok && (len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, types.AlarmTypeMetricAlarm)) {
			out.MetricAlarms = append(out.MetricAlarms, a)
		}
		if a, ok := c.composite[name]; ok && slices.Contains(in.AlarmTypes, types.AlarmTypeCompositeAlarm) {
			out.CompositeAlarms = append(out.CompositeAlarms, a)
		}
		if a, ok := c.log[name]; ok && slices.Contains(in.AlarmTypes, types.AlarmTypeLogAlarm) {
			out.LogAlarms = append(out.LogAlarms, a)
		}
	}
	return out, nil
}

func (c *cloudWatchAlarms) set(name string, state types.StateValue, reason string, since time.Time, composite bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if composite {
		c.composite[name] = types.CompositeAlarm{AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason), StateUpdatedTimestamp: aws.Time(since)}
		return
	}
	c.metric[name] = types.MetricAlarm{AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason), StateUpdatedTimestamp: aws.Time(since)}
}

// setLog sets a log alarm: a CloudWatch Logs query against a threshold.
func (c *cloudWatchAlarms) setLog(name string, state types.StateValue, reason string, since time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log == nil {
		c.log = map[string]types.LogAlarm{}
	}
	c.log[name] = types.LogAlarm{AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason), StateUpdatedTimestamp: aws.Time(since)}
}

func (c *cloudWatchAlarms) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (h *harness) alarms() *cloudWatchAlarms {
	c := &cloudWatchAlarms{metric: map[string]types.MetricAlarm{}, composite: map[string]types.CompositeAlarm{}}
	h.eng.Alarms = cloudwatch.AlarmSource{CloudWatch: c}
	return c
}

func withAlarms(names ...string) func(map[string]any) {
	return func(d map[string]any) { d["analysis"].(map[string]any)["alarms"] = names }
}

// lastTask is the last of the named Task states entered before "Roll back".
func lastTask(entered []string) string {
	last := ""
	for _, s := range entered {
		if s == statemachine.StateRollBack {
			return last
		}
		if _, task := statemachine.TaskActions[s]; task {
			last = s
		}
	}
	return last
}

var firedAt = time.Date(2026, 11, 25, 11, 58, 0, 0, time.UTC)

const thresholdCrossed = "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (25/11/26 11:57:00)] was greater than the threshold (5.0)."

func alarmGates(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router+"/in ALARM rolls back before any traffic", func(t *testing.T) {
			h := newHarness(t)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "healthy") // only the alarm can tell
			cw := h.alarms()
			cw.set("shop-p99", types.StateValueOk, "ok", firedAt, false)
			cw.set("shop-5xx", types.StateValueAlarm, thresholdCrossed, firedAt, false)
			var mu sync.Mutex
			atRollBack := map[string]int{}
			h.hook = func(state string, _ json.RawMessage) {
				if state == statemachine.StateRollBack {
					mu.Lock()
					defer mu.Unlock()
					atRollBack = h.weights(router, "shop")
				}
			}
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", withAlarms("shop-p99", "shop-5xx")))
			requireStatus(t, res, "FAILED", "RolledBack")
			want := `shop version 2 failed at 0%, before the shift to 25%: alarm "shop-5xx" is in ALARM since 2026-11-25T11:58:00Z: ` + thresholdCrossed
			h.assertRolledBack(router, "shop", want)
			entered := res.Entered()
			if n := count(entered, statemachine.StateShift); n != 1 || lastTask(entered) != statemachine.StateShift {
				t.Errorf("%d shifts, rolled back after %q: want the first shift to refuse", n, lastTask(entered))
			}
			mu.Lock()
			if atRollBack["shop-2"] != 0 || atRollBack["shop-1"] != 100 {
				t.Errorf("route before the roll back %v: the canary must never get traffic", atRollBack)
			}
			mu.Unlock()
			if n := len(h.notices.got); n == 0 || !strings.Contains(h.notices.got[n-1].Reason, want) {
				t.Errorf("the notice does not name the alarm: %+v", h.notices.got)
			}
		})

		t.Run(router+"/going to ALARM mid-rollout rolls back before the next analysis", func(t *testing.T) {
			h := newHarness(t)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "healthy")
			cw := h.alarms()
			cw.set("shop-health", types.StateValueOk, "all children OK", firedAt, true)
			var mu sync.Mutex
			shifts, fired := 0, false
			h.hook = func(state string, _ json.RawMessage) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case state == statemachine.StateShift:
					shifts++
				case state == statemachine.StateCheck && shifts == 2 && !fired:
					// While the canary carries its second weight.
					cw.set("shop-health", types.StateValueAlarm, "shop-5xx and shop-p99 in ALARM", h.clock.Now(), true)
					fired = true
				}
			}
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", withAlarms("shop-health")))
			requireStatus(t, res, "FAILED", "RolledBack")
			h.assertRolledBack(router, "shop", `composite alarm "shop-health" is in ALARM since`)
			entered := res.Entered()
			if n := count(entered, statemachine.StateShift); n != 2 || lastTask(entered) != statemachine.StateCheck {
				t.Errorf("%d shifts, rolled back after %q: want the first check after the second shift to roll back", n, lastTask(entered))
			}
			st := h.status("shop").Status
			if !strings.Contains(st.Reason, "shop version 2 failed at 50%") || !strings.Contains(st.Reason, "shop-5xx and shop-p99 in ALARM") {
				t.Errorf("reason %q, want the weight and the alarm's reason", st.Reason)
			}
			// The analyses before the alarm fired show it passing.
			if len(st.Verdicts) < 2 || st.Verdicts[1].Alarms != "alarms: shop-health OK" {
				t.Errorf("verdicts %+v, want the earlier analysis to show the alarm OK", st.Verdicts)
			}
		})

		t.Run(router+"/OK alarms promote", func(t *testing.T) {
			h := newHarness(t)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "healthy")
			cw := h.alarms()
			cw.set("shop-5xx", types.StateValueOk, "ok", firedAt, false)
			cw.set("shop-p99", types.StateValueInsufficientData, "no datapoints yet", firedAt, false)
			cw.setLog("shop-panics", types.StateValueOk, "no panics logged", firedAt)
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", withAlarms("shop-5xx", "shop-p99", "shop-panics")))
			requireStatus(t, res, "SUCCEEDED", "")
			if got := h.weights(router, "shop"); !maps.Equal(got, map[string]int{"shop-2": 100}) {
				t.Errorf("route after promotion %v", got)
			}
			st := h.status("shop").Status
			if len(st.Verdicts) == 0 {
				t.Fatal("no verdicts")
			}
			for _, v := range st.Verdicts {
				if v.Result != "pass" || v.Alarms != "alarms: shop-5xx OK, shop-p99 INSUFFICIENT_DATA, shop-panics OK" {
					t.Errorf("verdict %+v, want a pass showing every alarm", v)
				}
			}
			entered := res.Entered()
			checks, analyses := count(entered, statemachine.StateCheck), count(entered, statemachine.StateAnalyse)
			// Validate, every shift, every check and every analysis read the alarms.
			shifts := count(entered, statemachine.StateShift)
			if got := cw.count(); got != 1+shifts+checks+analyses || checks <= analyses {
				t.Errorf("%d DescribeAlarms calls for %d shifts, %d checks and %d analyses", got, shifts, checks, analyses)
			}
		})

		t.Run(router+"/a missing alarm is refused at Validate", func(t *testing.T) {
			h := newHarness(t)
			h.stable(router, "shop")
			before := h.fingerprint("shop")
			cw := h.alarms()
			cw.set("shop-5xx", types.StateValueOk, "ok", firedAt, false)
			input := h.deployJSON(router, "shop", "registry.local/shop:2", withAlarms("shop-5xx", "shop-5XX"))
			res := h.run(input)
			requireStatus(t, res, "FAILED", statemachine.ErrValidation)
			// The Fail state's cause is fixed; the error the definition
			// caught is the handler's.
			raw, err := json.Marshal(input)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.eng.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: h.executionArn("shop", h.seq.Add(1)), State: raw})
			if err == nil || engine.ErrorName(err) != statemachine.ErrValidation ||
				!strings.Contains(err.Error(), `analysis.alarms[1]: "shop-5XX" is not a CloudWatch alarm in the cluster's account and region: create the alarm first, or correct the name`) ||
				strings.Contains(err.Error(), "analysis.alarms[0]") {
				t.Errorf("Validate error %v, want the missing alarm alone named", err)
			}
			if entered := res.Entered(); count(entered, statemachine.StateLock) != 0 {
				t.Errorf("states %q: nothing may run after Validate", entered)
			}
			if after := h.fingerprint("shop"); !maps.Equal(before, after) {
				t.Errorf("objects changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// Validate finds every type of alarm analysis.alarms names: a log alarm
// (its own list in DescribeAlarms' answer) is not missing, and judged like
// the others once the rollout runs.
func TestValidateFindsLogAlarms(t *testing.T) {
	cw := &cloudWatchAlarms{}
	cw.setLog("shop-panics", types.StateValueAlarm, "12 panics in 5 minutes", firedAt)
	e := validator(t, template.Policy{})
	e.Alarms = cloudwatch.AlarmSource{CloudWatch: cw}
	validate := func(names ...string) error {
		d := goodDeploy("appmesh", testTemplate(t, "appmesh"))
		d["analysis"] = map[string]any{"alarms": names}
		_, err := e.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)})
		return err
	}
	if err := validate("shop-panics"); err != nil {
		t.Errorf("a log alarm refused: %v", err)
	}
	err := validate("shop-panics", "shop-panic")
	if engine.ErrorName(err) != statemachine.ErrValidation || err == nil || strings.Contains(err.Error(), "analysis.alarms[0]") ||
		!strings.Contains(err.Error(), `analysis.alarms[1]: "shop-panic" is not a CloudWatch alarm`) {
		t.Errorf("a mistyped log alarm: %v", err)
	}
	got, err := e.Alarms.AlarmStates(context.Background(), []string{"shop-panics"})
	if err != nil {
		t.Fatal(err)
	}
	if v := analysis.JudgeAlarms([]string{"shop-panics"}, got); v.Result != analysis.ResultFail ||
		v.Reason != `log alarm "shop-panics" is in ALARM since 2026-11-25T11:58:00Z: 12 panics in 5 minutes` {
		t.Errorf("verdict %+v", v)
	}
}

// A canary whose container restarts after it received traffic is back on
// the stable version within one pod_check_interval of engine time, long
// before the analysis that would otherwise have been the first to look.
func restartAfterTrafficRollsBackWithinOneCheck(t *testing.T) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		t.Run(router, func(t *testing.T) {
			h := newHarness(t)
			h.stable(router, "shop")
			h.metrics.set("shop-2", "healthy")
			var mu sync.Mutex
			checks := 0
			pod := ""
			var brokeAt, rolledBackAt time.Time
			h.hook = func(state string, _ json.RawMessage) {
				mu.Lock()
				defer mu.Unlock()
				switch state {
				case statemachine.StateCheck:
					// The third check: the restart lands at the start of its wait.
					if checks++; checks == 3 {
						pod, brokeAt = h.breakPod("shop-2", restarted("Error", 2, "panic: nil map")), h.clock.Now()
					}
				case statemachine.StateRollBack:
					rolledBackAt = h.clock.Now()
				}
			}
			res := h.run(h.deployJSON(router, "shop", "registry.local/shop:2", nil))
			requireStatus(t, res, "FAILED", "RolledBack")
			if pod == "" {
				t.Fatalf("no pod of shop-2 was broken; the rollout ended %q after %q", h.status("shop").Status.Reason, res.Entered())
			}
			h.assertRolledBack(router, "shop", "pod "+pod+" container app restarted 1 times since the canary became ready")
			if took := rolledBackAt.Sub(brokeAt); took > 5*time.Second {
				t.Errorf("rolled back %s after the restart, want within one pod_check_interval (5 s)", took)
			}
			entered := res.Entered()
			if n := count(entered, statemachine.StateAnalyse); n != 0 || lastTask(entered) != statemachine.StateCheck {
				t.Errorf("rolled back after %q with %d analyses, want a check to roll back before the first analysis", lastTask(entered), n)
			}
			st := h.status("shop").Status
			if len(st.Verdicts) == 0 || st.Verdicts[0].Result != "fail" || !strings.Contains(st.Verdicts[0].Pods, pod) {
				t.Errorf("the pod-health verdict is not in the status: %+v", st.Verdicts)
			}
		})
	}
}
