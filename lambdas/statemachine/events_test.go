package statemachine_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/spec"
	sm "github.com/eks-canary/platform/lambdas/statemachine"
)

// The history events of each loop, as the docs quote them (a pod check is
// nine events): a loop that gains or loses a state changes its count here
// and in the docs.
func TestCostsOfEachLoop(t *testing.T) {
	got, err := sm.Costs()
	if err != nil {
		t.Fatal(err)
	}
	want := spec.EventCosts{Fixed: 37, ReadyPoll: 9, Check: 9, Analysis: 16, Shift: 5, HookRun: 7, HookWait: 9, HookInvoke: 12}
	if got != want {
		t.Errorf("Costs() = %+v, want %+v", got, want)
	}
	if checks := contract.MaxPodChecks * got.Check; checks >= spec.EventsAllowed/2 {
		t.Errorf("%d pod checks take %d of the %d events a plan may use: too many to leave room for its analyses", contract.MaxPodChecks, checks, spec.EventsAllowed)
	}
}

// Each counted path is what an execution of the definition really passes
// through: two scripted runs take every loop at least once.
func TestCountedPathsAreTheRunsOfAnExecution(t *testing.T) {
	plain, _ := run(t, map[string][]string{
		sm.StateReady:   {"ready"},
		sm.StateCheck:   {sm.NextCheck, sm.NextAnalyse},
		sm.StateAnalyse: {sm.NextAnalyse, sm.NextPromote},
	})
	loops, _ := run(t, map[string][]string{
		sm.StateReady:    {"not-ready", "not-ready", "hooks:" + spec.HookPreTraffic},
		sm.StateRunHooks: {sm.NextWait, sm.NextWait, sm.NextInvoke, sm.NextInvoke, sm.NextHooks, sm.NextShift},
		sm.StateAnalyse:  {sm.NextRollBack},
	})
	runs := [][]string{plain.Entered(), loops.Entered()}
	for name, p := range sm.CountedPaths() {
		if !slices.ContainsFunc(runs, func(entered []string) bool { return passes(entered, p) }) {
			t.Errorf("path %q (%v, then %q) is in neither run:\n%q\n%q", name, p.States, p.Then, runs[0], runs[1])
		}
	}
}

// passes reports whether entered runs through p's states in a row and
// then to p.Then, or ends there when p has no Then.
func passes(entered []string, p sm.Path) bool {
	for i := range entered {
		end := i + len(p.States)
		if end > len(entered) || !slices.Equal(entered[i:end], p.States) {
			continue
		}
		if p.Then == "" && end == len(entered) || p.Then != "" && end < len(entered) && entered[end] == p.Then {
			return true
		}
	}
	return false
}

func TestTasksTimeOutAfterTheContractsTaskTimeout(t *testing.T) {
	def, err := sm.Definition(sm.Config{FunctionArn: "arn:fn", TimeoutSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		States map[string]struct {
			Type           string
			TimeoutSeconds int
			Parameters     struct{ FunctionName string }
		}
	}
	if err := json.Unmarshal([]byte(def), &parsed); err != nil {
		t.Fatal(err)
	}
	engineTasks := 0
	for name, st := range parsed.States {
		if st.Type != "Task" || st.Parameters.FunctionName != "arn:fn" {
			continue
		}
		engineTasks++
		if got := time.Duration(st.TimeoutSeconds) * time.Second; got != contract.TaskTimeout {
			t.Errorf("%s times out after %s, want contract.TaskTimeout %s", name, got, contract.TaskTimeout)
		}
	}
	if engineTasks != len(sm.TaskActions) {
		t.Errorf("%d Tasks call the engine, want one per action (%d)", engineTasks, len(sm.TaskActions))
	}
}
