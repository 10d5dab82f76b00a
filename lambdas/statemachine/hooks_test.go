package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eks-canary/platform/lambdas/hooks"
	sm "github.com/eks-canary/platform/lambdas/statemachine"
)

// payloadLimit is what Step Functions carries into and out of a task.
const payloadLimit = 256 << 10

// limitedHooks plays Step Functions' payload limit around a rollout whose
// only hook is a Lambda hook at pre_rollout: a task answer over the limit
// fails the task with States.DataLimitExceeded, as the service does, and a
// task given more than the limit is a test failure. The state carries a
// deploy.json of stateBytes, as a large template would.
type limitedHooks struct {
	t          *testing.T
	answer     string // what the hook function returns
	stateBytes int

	mu     sync.Mutex
	judged map[string]any // $.rollout.hook as "Run hooks" received it after the invocation
	inputs map[string]int // the largest input of each Task
}

func (l *limitedHooks) invoke(_ context.Context, state string, payload json.RawMessage) (json.RawMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inputs[state] = max(l.inputs[state], len(payload))
	if len(payload) > payloadLimit {
		l.t.Errorf("%s was given %d bytes, more than Step Functions carries", state, len(payload))
	}
	if state == sm.StateInvokeHook {
		if len(l.answer) > payloadLimit {
			return nil, namedError{hooks.ErrDataLimitExceeded, "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit."}
		}
		return json.RawMessage(l.answer), nil
	}
	var p struct {
		State map[string]any `json:"state"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	rollout, _ := p.State["rollout"].(map[string]any)
	switch state {
	case sm.StateValidate:
		p.State["config_file"] = strings.Repeat("x", l.stateBytes)
		rollout = map[string]any{}
	case sm.StateLock:
		rollout["next"], rollout["hook"] = sm.NextHooks, map[string]any{"point": "pre_rollout"}
	case sm.StateRunHooks:
		hook := rollout["hook"].(map[string]any)
		if _, prepared := hook["function"]; !prepared {
			hook["function"], hook["payload"] = "arn:aws:lambda:us-west-2:1:function:gate", map[string]any{"hook": "gate"}
			rollout["next"] = sm.NextInvoke
			break
		}
		// As the engine: judge, keep the verdict and an excerpt, drop the answer.
		l.judged = maps.Clone(hook)
		res := judge(hook)
		delete(hook, "result")
		delete(hook, "error")
		delete(hook, "function")
		delete(hook, "payload")
		rollout["hooks"] = []any{map[string]any{"hook": "gate", "passed": res.Passed, "output": res.Output}}
		rollout["next"] = sm.NextDeploy
		if !res.Passed {
			rollout["next"] = sm.NextRolledBack
		}
	default:
		return nil, fmt.Errorf("%s: not part of this rollout", state)
	}
	p.State["rollout"] = rollout
	return json.Marshal(p.State)
}

// judge reads $.rollout.hook as the engine does.
func judge(hook map[string]any) hooks.Result {
	if e, ok := hook["error"].(map[string]any); ok {
		name, _ := e["Error"].(string)
		cause, _ := e["Cause"].(string)
		return hooks.JudgeLambda(nil, name, cause)
	}
	result, _ := hook["result"].(map[string]any)
	answer, _ := json.Marshal(result["Payload"])
	return hooks.JudgeLambda(answer, "", "")
}

// TestLambdaHookAnswerStaysWithinTheStateLimit: a function answering 300
// KiB does not end the execution with an error no Catch takes: the failed
// invocation reaches "Run hooks", which judges the hook failed with the
// limit named, and no Task is ever given more than Step Functions carries.
// A small answer reaches "Run hooks" whole.
func TestLambdaHookAnswerStaysWithinTheStateLimit(t *testing.T) {
	def, err := sm.Definition(sm.Config{FunctionArn: "arn:aws:lambda:us-west-2:1:function:engine", TimeoutSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		States map[string]struct {
			Catch []struct{ ErrorEquals []string }
		}
	}
	if err := json.Unmarshal([]byte(def), &parsed); err != nil {
		t.Fatal(err)
	}
	named := false
	for _, c := range parsed.States[sm.StateInvokeHook].Catch {
		named = named || slices.Equal(c.ErrorEquals, []string{hooks.ErrDataLimitExceeded})
	}
	if !named {
		t.Errorf("%s does not catch %s by name: States.ALL does not take it", sm.StateInvokeHook, hooks.ErrDataLimitExceeded)
	}

	tests := []struct {
		name       string
		answer     string
		wantStatus string
		wantError  string
		wantOutput string
		wantCalls  []string
	}{
		{
			name:       "a 300 KiB answer fails the hook",
			answer:     `{"ok": true, "message": "` + strings.Repeat("m", 300<<10) + `"}`,
			wantStatus: "FAILED", wantError: "RolledBack",
			wantOutput: "the function's answer is larger than the 256 KiB Step Functions carries between states",
			wantCalls:  []string{sm.StateValidate, sm.StateLock, sm.StateRunHooks, sm.StateInvokeHook, sm.StateRunHooks},
		},
		{
			name:       "a small answer is judged",
			answer:     `{"ok": false, "message": "3 tests failed"}`,
			wantStatus: "FAILED", wantError: "RolledBack",
			wantOutput: "3 tests failed",
			wantCalls:  []string{sm.StateValidate, sm.StateLock, sm.StateRunHooks, sm.StateInvokeHook, sm.StateRunHooks},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &limitedHooks{t: t, answer: tt.answer, stateBytes: 150 << 10, inputs: map[string]int{}}
			var calls []string
			invoke := func(ctx context.Context, state string, payload json.RawMessage) (json.RawMessage, error) {
				calls = append(calls, state)
				return l.invoke(ctx, state, payload)
			}
			x, err := interpreter.Start(def, map[string]any{"microservice_name": "shop"}, fmt.Sprintf("arn:aws:states:us-west-2:1:execution:canary:run-1-limit-%d", i), invoke, errorName)
			if err != nil {
				t.Fatal(err)
			}
			res := x.Wait()
			if res.Status != tt.wantStatus || res.Error != tt.wantError || !slices.Equal(calls, tt.wantCalls) {
				t.Fatalf("ended %s %s (%s) after %v, want %s %s after %v", res.Status, res.Error, res.Cause, calls, tt.wantStatus, tt.wantError, tt.wantCalls)
			}
			if res := judge(l.judged); res.Passed || !strings.Contains(res.Output, tt.wantOutput) || len(res.Output) > hooks.OutputLimit {
				t.Errorf("Run hooks judged %+v, want a failure saying %q", res, tt.wantOutput)
			}
			if n := l.inputs[sm.StateRunHooks]; n < 150<<10 {
				t.Errorf("Run hooks was given %d bytes: the state's deploy.json did not travel", n)
			}
		})
	}
}
