package interp_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/statemachine/interp"
)

func definition(t *testing.T) *interp.Machine {
	t.Helper()
	def, err := statemachine.Definition(statemachine.Config{FunctionArn: "arn:fn", TimeoutSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	m, err := interp.Parse(def)
	if err != nil {
		t.Fatalf("the generated definition is refused: %v", err)
	}
	return m
}

// named is a handler error with the name Retry and Catch match.
type named struct{ name string }

func (e named) Error() string { return "failed with " + e.name }

func errorName(err error) string {
	var n named
	if errors.As(err, &n) {
		return n.name
	}
	return "EngineError"
}

// script answers a Task from the action and how often it ran: a change to
// the rollout fields, or an error.
type script func(action string, call int) (map[string]any, error)

type payload struct {
	Action    string         `json:"action"`
	Execution string         `json:"execution"`
	State     map[string]any `json:"state"`
}

func run(t *testing.T, s script) (interp.Result, []time.Duration, []payload, error) {
	t.Helper()
	calls := map[string]int{}
	var slept []time.Duration
	var seen []payload
	invoke := func(_ context.Context, _ string, raw json.RawMessage) (json.RawMessage, error) {
		var p payload
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		seen = append(seen, p)
		calls[p.Action]++
		change, err := s(p.Action, calls[p.Action])
		if err != nil {
			return nil, err
		}
		st := p.State
		rollout, _ := st["rollout"].(map[string]any)
		if rollout == nil {
			rollout = map[string]any{}
		}
		for k, v := range change {
			rollout[k] = v
		}
		st["rollout"] = rollout
		return json.Marshal(st)
	}
	sleep := func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}
	res, err := definition(t).Run(context.Background(), json.RawMessage(`{"microservice_name":"shop"}`),
		interp.Options{Execution: "exec-1", Invoke: invoke, ErrorName: errorName, Sleep: sleep})
	return res, slept, seen, err
}

// healthy promotes after one shift and one analysis.
func healthy(action string, _ int) (map[string]any, error) {
	switch action {
	// As the engine, these steps say what follows them.
	case statemachine.ActionLock:
		return map[string]any{"next": statemachine.NextDeploy}, nil
	case statemachine.ActionReady:
		return map[string]any{"ready": true, "next": statemachine.NextShift}, nil
	case statemachine.ActionPromote:
		return map[string]any{"next": statemachine.NextSucceeded}, nil
	case statemachine.ActionRollBack:
		return map[string]any{"next": statemachine.NextRolledBack}, nil
	case statemachine.ActionShift, statemachine.ActionAnalyse:
		return map[string]any{"next": statemachine.NextPromote, "check_seconds": 30}, nil
	case statemachine.ActionCheck:
		return map[string]any{"next": statemachine.NextAnalyse}, nil
	}
	return nil, nil
}

// with overrides one action of healthy; f answering nothing leaves it healthy.
func with(action string, f func(call int) (map[string]any, error)) script {
	return func(a string, call int) (map[string]any, error) {
		if a == action {
			if change, err := f(call); change != nil || err != nil {
				return change, err
			}
		}
		return healthy(a, call)
	}
}

func fails(name string, times int) func(int) (map[string]any, error) {
	return func(call int) (map[string]any, error) {
		if call <= times {
			return nil, named{name}
		}
		return nil, nil
	}
}

func TestGeneratedDefinitionPaths(t *testing.T) {
	const (
		v = statemachine.StateValidate
		l = statemachine.StateLock
		d = statemachine.StateDeploy
		r = statemachine.StateReady
		s = statemachine.StateShift
		a = statemachine.StateAnalyse
		p = statemachine.StatePromote
		b = statemachine.StateRollBack
		c = statemachine.StateCheck
	)
	// A retry is not a new entry into the state, as in an execution's history.
	tests := []struct {
		name    string
		script  script
		end     string
		tasks   []string
		retries int
		slept   []time.Duration
	}{
		{"promotion", healthy, statemachine.StateSucceeded, []string{v, l, d, r, s, c, a, p}, 0, []time.Duration{30 * time.Second}},
		{"not ready polls after wait_seconds", with(statemachine.ActionReady, func(call int) (map[string]any, error) {
			return map[string]any{"ready": call == 2, "wait_seconds": 10, "next": statemachine.NextShift}, nil
		}), statemachine.StateSucceeded, []string{v, l, d, r, r, s, c, a, p}, 0, []time.Duration{10 * time.Second, 30 * time.Second}},
		{"an unknown next action rolls back", with(statemachine.ActionAnalyse, func(int) (map[string]any, error) {
			return map[string]any{"next": "sideways"}, nil
		}), statemachine.StateRolledBack, []string{v, l, d, r, s, c, a, b}, 0, []time.Duration{30 * time.Second}},
		{"hold analyses again", with(statemachine.ActionAnalyse, func(call int) (map[string]any, error) {
			return map[string]any{"next": map[bool]string{true: statemachine.NextHold, false: statemachine.NextPromote}[call == 1]}, nil
		}), statemachine.StateSucceeded, []string{v, l, d, r, s, c, a, c, a, p}, 0, []time.Duration{30 * time.Second, 30 * time.Second}},
		{"invalid input", with(statemachine.ActionValidate, fails(statemachine.ErrValidation, 1)),
			statemachine.StateInvalid, []string{v}, 0, nil},
		{"lock held elsewhere", with(statemachine.ActionLock, fails(statemachine.ErrInProgress, 1)),
			statemachine.StateInProgress, []string{v, l}, 0, nil},
		{"refused", with(statemachine.ActionLock, fails(statemachine.ErrRefused, 1)),
			statemachine.StateRefused, []string{v, l}, 0, nil},
		{"dry run refusal", with(statemachine.ActionDeploy, fails(statemachine.ErrValidation, 1)),
			statemachine.StateInvalid, []string{v, l, d}, 0, nil},
		{"ended elsewhere touches nothing", with(statemachine.ActionShift, fails(statemachine.ErrEnded, 1)),
			statemachine.StateEnded, []string{v, l, d, r, s}, 0, nil},
		{"transient errors are retried with backoff", with(statemachine.ActionShift, fails(statemachine.ErrTransient, 2)),
			statemachine.StateSucceeded, []string{v, l, d, r, s, c, a, p}, 2, []time.Duration{2 * time.Second, 4 * time.Second, 30 * time.Second}},
		{"transient errors give up after MaxAttempts", with(statemachine.ActionShift, fails(statemachine.ErrTransient, 6)),
			statemachine.StateRolledBack, []string{v, l, d, r, s, b}, 5,
			[]time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}},
		{"other errors roll back at once", with(statemachine.ActionShift, fails("EngineError", 1)),
			statemachine.StateRolledBack, []string{v, l, d, r, s, b}, 0, nil},
		{"a roll back that gives up is recorded", func(action string, call int) (map[string]any, error) {
			if action == statemachine.ActionShift || action == statemachine.ActionRollBack {
				return nil, named{"EngineError"}
			}
			return healthy(action, call)
		}, statemachine.StateRollBackFailed, []string{v, l, d, r, s, b, statemachine.StateRecordFailure}, 8,
			[]time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second, 24 * time.Second, 48 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, slept, seen, err := run(t, tt.script)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tt.end {
				t.Errorf("ended in %q, want %q; states %q", res.State, tt.end, res.Entered())
			}
			var tasks []string
			for _, name := range res.Entered() {
				if _, ok := statemachine.TaskActions[name]; ok {
					tasks = append(tasks, name)
				}
			}
			if !slices.Equal(tasks, tt.tasks) {
				t.Errorf("tasks %q, want %q", tasks, tt.tasks)
			}
			retries := 0
			for _, e := range res.History {
				if e.Type == interp.EventRetried {
					retries++
				}
			}
			if retries != tt.retries {
				t.Errorf("%d retries, want %d", retries, tt.retries)
			}
			if !slices.Equal(slept, tt.slept) {
				t.Errorf("slept %v, want %v", slept, tt.slept)
			}
			for _, p := range seen {
				if p.Execution != "exec-1" || p.State["microservice_name"] != "shop" || statemachine.TaskActions[stateOf(p.Action)] != p.Action {
					t.Errorf("payload %+v: want the execution id, the whole state and the action", p)
				}
			}
		})
	}
}

func stateOf(action string) string {
	for state, a := range statemachine.TaskActions {
		if a == action {
			return state
		}
	}
	return ""
}

// A caught error reaches the next state at the Catch's ResultPath, and a
// Fail state's Error and Cause end the run.
func TestCatchKeepsTheErrorForRollBack(t *testing.T) {
	res, _, seen, err := run(t, with(statemachine.ActionShift, fails("EngineError", 1)))
	if err != nil {
		t.Fatal(err)
	}
	last := seen[len(seen)-1]
	caught, _ := last.State["error"].(map[string]any)
	if last.Action != statemachine.ActionRollBack || caught["Error"] != "EngineError" || caught["Cause"] != "failed with EngineError" {
		t.Errorf("roll back got %+v, want the caught error at $.error", last)
	}
	if res.Status != "FAILED" || res.Error != "RolledBack" || res.Cause == "" || errorName(res.Caught) != "EngineError" {
		t.Errorf("result %+v", res)
	}
}

func TestStoppedRunReturnsTheContextError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	invoke := func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
		cancel()
		return nil, context.Canceled
	}
	_, err := definition(t).Run(ctx, json.RawMessage(`{}`), interp.Options{Invoke: invoke, ErrorName: errorName,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestParseRefusesWhatItDoesNotRun(t *testing.T) {
	task := `"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Next":"End"`
	end := `"End":{"Type":"Succeed"}`
	tests := []struct{ name, def, want string }{
		{"Parallel", `{"StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[]}}}`, `Type "Parallel" is not supported`},
		{"Map", `{"StartAt":"A","States":{"A":{"Type":"Map"}}}`, `Type "Map" is not supported`},
		{"Pass", `{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`, `Type "Pass" is not supported`},
		{"InputPath", `{"StartAt":"A","States":{"A":{` + task + `,"InputPath":"$.x"},` + end + `}}`, `field "InputPath"`},
		{"End on a Task", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`, `field "End"`},
		{"other resource", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","Next":"End"},` + end + `}}`, `Resource "arn:aws:states:::sqs:sendMessage"`},
		{"numeric comparator", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericEquals":1,"Next":"End"}],"Default":"End"},` + end + `}}`, `field "NumericEquals"`},
		{"Choice without Default", `{"StartAt":"A","States":{"A":{"Type":"Choice","Choices":[{"Variable":"$.n","StringEquals":"x","Next":"End"}]},` + end + `}}`, `needs a Default`},
		{"Wait Seconds", `{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":3,"Next":"End"},` + end + `}}`, `field "Seconds"`},
		{"JitterStrategy", `{"StartAt":"A","States":{"A":{` + task + `,"Retry":[{"ErrorEquals":["States.ALL"],"JitterStrategy":"FULL"}]},` + end + `}}`, `field "JitterStrategy"`},
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"End","States":{` + end + `}}`, `QueryLanguage "JSONata"`},
		{"undefined Next", `{"StartAt":"A","States":{"A":{` + task + `}}}`, `goes to "End", which is not defined`},
		{"undefined StartAt", `{"StartAt":"B","States":{` + end + `}}`, `StartAt "B" is not defined`},
		{"rich path", `{"StartAt":"A","States":{"A":{` + task + `,"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$$.x","Next":"End"}]},` + end + `}}`, `only $.field paths`},
		{"top-level field", `{"StartAt":"End","Version":"1.0","States":{` + end + `}}`, `field "Version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := interp.Parse(tt.def)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// A Task with ResultSelector and ResultPath adds its answer to the state
// and keeps the rest, as "Invoke hook function" relies on.
func TestResultSelectorAndResultPath(t *testing.T) {
	m, err := interp.Parse(`{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",` +
		`"Parameters":{"FunctionName.$":"$.fn","Payload.$":"$.in"},"ResultSelector":{"Payload.$":"$.Payload"},` +
		`"ResultPath":"$.hook.result","Next":"End"},"End":{"Type":"Succeed"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	var sent string
	res, err := m.Run(context.Background(), []byte(`{"fn":"arn:f","in":{"q":1},"hook":{"point":"p"}}`), interp.Options{
		Invoke: func(_ context.Context, _ string, payload json.RawMessage) (json.RawMessage, error) {
			sent = string(payload)
			return json.RawMessage(`{"ok":true}`), nil
		},
		ErrorName: func(error) string { return "E" },
		Sleep:     func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent != `{"q":1}` {
		t.Errorf("payload %s, want the state's $.in", sent)
	}
	if want := `{"fn":"arn:f","hook":{"point":"p","result":{"Payload":{"ok":true}}},"in":{"q":1}}`; string(res.Output) != want {
		t.Errorf("output %s, want %s", res.Output, want)
	}
}
