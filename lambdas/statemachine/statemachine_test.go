package statemachine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eks-canary/platform/internal/asl"
	sm "github.com/eks-canary/platform/lambdas/statemachine"
)

// namedError carries the error type a Lambda would report.
type namedError struct{ name, msg string }

func (e namedError) Error() string { return e.msg }

func errorName(err error) string {
	var n namedError
	if errors.As(err, &n) {
		return n.name
	}
	return "Error"
}

// script answers Task states: each call returns the state with rollout.next
// and rollout.ready set from a per-state queue of outcomes.
type script struct {
	mu    sync.Mutex
	plan  map[string][]string // state -> outcomes, consumed in order; the last one repeats
	calls []string
}

func (s *script) invoke(_ context.Context, state string, payload json.RawMessage) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, state)
	if state == sm.StateInvokeHook {
		// A Lambda hook: its payload is what "Run hooks" prepared.
		var hook map[string]any
		if err := json.Unmarshal(payload, &hook); err != nil || hook["hook"] != "gate" {
			return nil, fmt.Errorf("hook payload %s: %v", payload, err)
		}
		return json.RawMessage(`{"ok": true}`), nil
	}
	var p struct {
		Action    string         `json:"action"`
		Execution string         `json:"execution"`
		State     map[string]any `json:"state"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	if want := sm.TaskActions[state]; p.Action != want {
		return nil, fmt.Errorf("state %q sent action %q, want %q", state, p.Action, want)
	}
	if p.Execution != "arn:aws:states:us-west-2:1:execution:canary:run-1" {
		return nil, fmt.Errorf("execution id not passed: %q", p.Execution)
	}
	outcome := "ok"
	if state == sm.StateCheck {
		outcome = sm.NextAnalyse // pods and alarms healthy, the analysis due
	}
	if q := s.plan[state]; len(q) > 0 {
		outcome = q[0]
		if len(q) > 1 {
			s.plan[state] = q[1:]
		}
	}
	rollout, _ := p.State["rollout"].(map[string]any)
	if rollout == nil {
		rollout = map[string]any{}
	}
	rollout["wait_seconds"] = 1
	rollout["check_seconds"] = 1
	point, toHooks := strings.CutPrefix(outcome, "hooks:")
	switch {
	// As the engine: these steps always say what follows them.
	case outcome == "ok" && state == sm.StateLock:
		rollout["next"] = sm.NextDeploy
	case outcome == "ok" && state == sm.StatePromote:
		rollout["next"] = sm.NextSucceeded
	case outcome == "ok" && state == sm.StateRollBack:
		rollout["next"] = sm.NextRolledBack
	case outcome == "ok":
	case outcome == "ready", outcome == "not-ready":
		rollout["ready"] = outcome == "ready"
		rollout["next"] = sm.NextShift
	case toHooks:
		rollout["ready"] = true // "Wait until ready" sends a ready canary to pre_traffic hooks
		rollout["next"] = sm.NextHooks
		rollout["hook"] = map[string]any{"point": point}
	case outcome == sm.NextInvoke:
		rollout["next"] = outcome
		rollout["hook"] = map[string]any{"point": "pre_traffic", "function": "arn:aws:lambda:us-west-2:1:function:gate", "payload": map[string]any{"hook": "gate"}}
	case slices.Contains([]string{sm.NextAnalyse, sm.NextShift, sm.NextBake, sm.NextHold, sm.NextPromote, sm.NextRollBack, sm.NextCheck, "nonsense",
		sm.NextHooks, sm.NextWait, sm.NextDeploy, sm.NextSucceeded, sm.NextRolledBack}, outcome):
		rollout["next"] = outcome
	default: // an error name
		return nil, namedError{outcome, "scripted " + outcome}
	}
	p.State["rollout"] = rollout
	return json.Marshal(p.State)
}

var interpreter *asl.Interpreter

func TestMain(m *testing.M) {
	var err error
	if interpreter, err = asl.NewInterpreter(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	interpreter.Close()
	os.Exit(code)
}

func run(t *testing.T, plan map[string][]string) (asl.Result, []string) {
	t.Helper()
	def, err := sm.Definition(sm.Config{FunctionArn: "arn:aws:lambda:us-west-2:1:function:engine", TimeoutSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	s := &script{plan: plan}
	x, err := interpreter.Start(def, map[string]any{"microservice_name": "yelb-appserver"},
		"arn:aws:states:us-west-2:1:execution:canary:run-1", s.invoke, errorName)
	if err != nil {
		t.Fatal(err)
	}
	return x.Wait(), s.calls
}

func TestPaths(t *testing.T) {
	tests := []struct {
		name       string
		plan       map[string][]string
		wantStatus string
		wantError  string
		wantCalls  []string
	}{
		{
			name: "canary shifts, bakes and is promoted",
			plan: map[string][]string{
				sm.StateReady:   {"not-ready", "ready"},
				sm.StateAnalyse: {sm.NextAnalyse, sm.NextShift, sm.NextHold, sm.NextBake, sm.NextPromote},
			},
			wantStatus: "SUCCEEDED",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateReady,
				sm.StateShift, sm.StateCheck, sm.StateAnalyse, sm.StateCheck, sm.StateAnalyse, sm.StateShift, sm.StateCheck, sm.StateAnalyse, sm.StateCheck, sm.StateAnalyse,
				sm.StateCheck, sm.StateAnalyse, sm.StatePromote},
		},
		{
			name:       "failing analysis rolls back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateAnalyse: {sm.NextRollBack}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateCheck, sm.StateAnalyse, sm.StateRollBack},
		},
		{
			name:       "transient errors are retried, not rolled back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateShift: {sm.ErrTransient, "Lambda.ServiceException", "ok"}, sm.StateAnalyse: {sm.NextPromote}},
			wantStatus: "SUCCEEDED",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateShift, sm.StateShift, sm.StateCheck, sm.StateAnalyse, sm.StatePromote},
		},
		{
			name:       "a permanent error mid-shift rolls back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateShift: {"Forbidden"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift, sm.StateRollBack},
		},
		{
			name:       "an error while waiting for readiness rolls back",
			plan:       map[string][]string{sm.StateReady: {"not-ready", "CanaryNotReady"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateReady, sm.StateRollBack},
		},
		{
			name:       "retries exhausted roll back", // MaxAttempts 5: one call and five retries
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateShift: {sm.ErrTransient}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: append([]string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady},
				append(slices.Repeat([]string{sm.StateShift}, 6), sm.StateRollBack)...),
		},
		{
			name:       "an unknown next action rolls back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateAnalyse: {"nonsense"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateCheck, sm.StateAnalyse, sm.StateRollBack},
		},
		{
			name:       "a rollout that ended elsewhere stops without rolling back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateShift: {sm.ErrEnded}},
			wantStatus: "FAILED", wantError: sm.ErrEnded,
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift},
		},
		{
			name:       "a refused start fails fast without rolling back",
			plan:       map[string][]string{sm.StateLock: {sm.ErrRefused}},
			wantStatus: "FAILED", wantError: sm.ErrRefused,
			wantCalls: []string{sm.StateValidate, sm.StateLock},
		},
		{
			name:       "invalid deploy.json changes nothing",
			plan:       map[string][]string{sm.StateValidate: {sm.ErrValidation}},
			wantStatus: "FAILED", wantError: sm.ErrValidation,
			wantCalls: []string{sm.StateValidate},
		},
		{
			name:       "a rollout in progress fails fast without rolling back",
			plan:       map[string][]string{sm.StateLock: {sm.ErrInProgress}},
			wantStatus: "FAILED", wantError: sm.ErrInProgress,
			wantCalls: []string{sm.StateValidate, sm.StateLock},
		},
		{
			name:       "a failing roll back is retried, then reported",
			plan:       map[string][]string{sm.StateDeploy: {"Forbidden"}, sm.StateRollBack: {"Forbidden"}},
			wantStatus: "FAILED", wantError: "RollBackFailed",
			wantCalls: append(append([]string{sm.StateValidate, sm.StateLock, sm.StateDeploy},
				slices.Repeat([]string{sm.StateRollBack}, 9)...), sm.StateRecordFailure),
		},
		{
			name: "a roll back whose failure cannot be recorded still ends failed",
			plan: map[string][]string{sm.StateDeploy: {"Forbidden"}, sm.StateRollBack: {"Forbidden"},
				sm.StateRecordFailure: {"Forbidden"}},
			wantStatus: "FAILED", wantError: "RollBackFailed",
			wantCalls: append(append([]string{sm.StateValidate, sm.StateLock, sm.StateDeploy},
				slices.Repeat([]string{sm.StateRollBack}, 9)...), sm.StateRecordFailure),
		},
		{
			name: "hooks run before the canary, before traffic, at a gate and after promotion",
			plan: map[string][]string{
				sm.StateLock:     {"hooks:pre_rollout"},
				sm.StateRunHooks: {sm.NextInvoke, sm.NextWait, sm.NextDeploy, sm.NextInvoke, sm.NextShift, sm.NextHold, sm.NextPromote, sm.NextSucceeded},
				sm.StateReady:    {"hooks:pre_traffic"},
				sm.StateAnalyse:  {"hooks:confirm_promotion"},
				sm.StatePromote:  {"hooks:post_rollout"},
			},
			wantStatus: "SUCCEEDED",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateRunHooks, sm.StateInvokeHook, sm.StateRunHooks, sm.StateRunHooks,
				sm.StateDeploy, sm.StateReady, sm.StateRunHooks, sm.StateInvokeHook, sm.StateRunHooks, sm.StateShift,
				sm.StateCheck, sm.StateAnalyse, sm.StateRunHooks, sm.StateCheck, sm.StateAnalyse, sm.StateRunHooks,
				sm.StatePromote, sm.StateRunHooks},
		},
		{
			name:       "a failed pre_rollout hook ends rolled back without a roll back",
			plan:       map[string][]string{sm.StateLock: {"hooks:pre_rollout"}, sm.StateRunHooks: {sm.NextRolledBack}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateRunHooks},
		},
		{
			name:       "an engine error at a gate rolls back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateAnalyse: {"hooks:confirm_traffic"}, sm.StateRunHooks: {"Forbidden"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift, sm.StateCheck, sm.StateAnalyse, sm.StateRunHooks, sm.StateRollBack},
		},
		{
			name:       "an engine error in post_rollout hooks keeps the promotion",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateAnalyse: {sm.NextPromote}, sm.StatePromote: {"hooks:post_rollout"}, sm.StateRunHooks: {"Forbidden"}},
			wantStatus: "SUCCEEDED",
			wantCalls:  []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift, sm.StateCheck, sm.StateAnalyse, sm.StatePromote, sm.StateRunHooks},
		},
		{
			name:       "on_rollback hooks run after the roll back and an error there still ends rolled back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateAnalyse: {sm.NextRollBack}, sm.StateRollBack: {"hooks:on_rollback"}, sm.StateRunHooks: {"Forbidden"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift, sm.StateCheck, sm.StateAnalyse, sm.StateRollBack, sm.StateRunHooks},
		},
		{
			name:       "the API server refusing the canary in a dry run ends invalid without rolling back",
			plan:       map[string][]string{sm.StateDeploy: {sm.ErrValidation}},
			wantStatus: "FAILED", wantError: sm.ErrValidation,
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy},
		},
		{
			name: "checks between analyses loop until the analysis is due",
			plan: map[string][]string{
				sm.StateReady:   {"ready"},
				sm.StateCheck:   {sm.NextCheck, sm.NextCheck, sm.NextAnalyse},
				sm.StateAnalyse: {sm.NextPromote},
			},
			wantStatus: "SUCCEEDED",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateCheck, sm.StateCheck, sm.StateCheck, sm.StateAnalyse, sm.StatePromote},
		},
		{
			name:       "a failing check rolls back without analysing",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateCheck: {sm.NextCheck, sm.NextRollBack}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateCheck, sm.StateCheck, sm.StateRollBack},
		},
		{
			name:       "an unknown next after a check rolls back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateCheck: {"nonsense"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateCheck, sm.StateRollBack},
		},
		{
			name:       "a check erring rolls back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateCheck: {"Forbidden"}},
			wantStatus: "FAILED", wantError: "RolledBack",
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift,
				sm.StateCheck, sm.StateRollBack},
		},
		{
			name:       "a check finding the rollout ended stops without rolling back",
			plan:       map[string][]string{sm.StateReady: {"ready"}, sm.StateCheck: {sm.ErrEnded}},
			wantStatus: "FAILED", wantError: sm.ErrEnded,
			wantCalls: []string{sm.StateValidate, sm.StateLock, sm.StateDeploy, sm.StateReady, sm.StateShift, sm.StateCheck},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, calls := run(t, tt.plan)
			if res.Status != tt.wantStatus || (tt.wantError != "" && res.Error != tt.wantError) {
				t.Fatalf("status %s error %q cause %q, want %s %q", res.Status, res.Error, res.Cause, tt.wantStatus, tt.wantError)
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Fatalf("task calls\n got %q\nwant %q", calls, tt.wantCalls)
			}
		})
	}
}

func TestEveryTaskCanRollBack(t *testing.T) {
	def, err := sm.Definition(sm.Config{FunctionArn: "arn:fn", TimeoutSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		TimeoutSeconds int
		States         map[string]struct {
			Type  string
			Retry []struct{ ErrorEquals []string }
			Catch []struct {
				ErrorEquals []string
				Next        string
			}
		}
	}
	if err := json.Unmarshal([]byte(def), &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.TimeoutSeconds != 60 {
		t.Errorf("overall timeout %d, want 60", parsed.TimeoutSeconds)
	}
	for name, st := range parsed.States {
		if st.Type != "Task" {
			continue
		}
		if len(st.Retry) == 0 {
			t.Errorf("%s has no Retry", name)
		}
		last := st.Catch[len(st.Catch)-1]
		if !slices.Equal(last.ErrorEquals, []string{"States.ALL"}) {
			t.Errorf("%s: last Catch is %v, want States.ALL", name, last.ErrorEquals)
		}
		switch name {
		case sm.StateValidate:
			if last.Next != sm.StateInvalid {
				t.Errorf("Validate catches into %q", last.Next)
			}
		case sm.StateRollBack:
			if last.Next != sm.StateRecordFailure {
				t.Errorf("Roll back catches into %q", last.Next)
			}
		case sm.StateRecordFailure:
			if last.Next != sm.StateRollBackFailed {
				t.Errorf("Roll back catches into %q", last.Next)
			}
		case sm.StateInvokeHook:
			// A function's error is the hook's answer, judged by the engine.
			if last.Next != sm.StateRunHooks {
				t.Errorf("%s catches into %q, want %q", name, last.Next, sm.StateRunHooks)
			}
		case sm.StateRunHooks:
			// Decides by the hook point: notify-only hooks never roll back.
			if last.Next != sm.StateHookError {
				t.Errorf("%s catches into %q, want %q", name, last.Next, sm.StateHookError)
			}
		default:
			if last.Next != sm.StateRollBack {
				t.Errorf("%s catches into %q, want %q", name, last.Next, sm.StateRollBack)
			}
		}
	}
}

func TestDefinitionRejectsMissingConfig(t *testing.T) {
	if _, err := sm.Definition(sm.Config{TimeoutSeconds: 10}); err == nil {
		t.Error("empty FunctionArn accepted")
	}
	if _, err := sm.Definition(sm.Config{FunctionArn: "arn:fn"}); err == nil {
		t.Error("zero timeout accepted")
	}
}
