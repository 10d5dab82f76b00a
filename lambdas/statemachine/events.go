package statemachine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/eks-canary/platform/lambdas/spec"
)

// stateEvents are the history events Step Functions records for one pass
// through a state of each type that succeeds at once: a Lambda Task is
// entered, scheduled, started, succeeded and exited; a Wait, Choice or
// Succeed state is entered and exited; a Fail state is entered and ends
// the execution.
var stateEvents = map[string]int{"Task": 5, "Wait": 2, "Choice": 2, "Succeed": 2, "Fail": 1}

// executionEvents are the execution's own: started, and how it ended.
const executionEvents = 2

// Path is a run of states in the definition, each leading to the next;
// Then is where the last one leads: the first again for a loop.
type Path struct {
	States []string
	Then   string
}

// CountedPaths are the runs the worst case of a plan is counted in
// (spec.EventCosts): one pass through each loop, and the states every
// execution passes once.
func CountedPaths() map[string]Path {
	return map[string]Path{
		"start": {States: []string{StateValidate, StateLock, StateHookNext, StateDeploy, StateReady, StateReadyChoice, StateHookNext}, Then: StateShift},
		// The longer of the two ends: promoted, or rolled back.
		"promote":     {States: []string{StatePromote, StateAfterPromote, StateSucceeded}},
		"roll back":   {States: []string{StateRollBack, StateAfterRollBack, StateRolledBack}},
		"ready poll":  {States: []string{StateWaitPods, StateReady, StateReadyChoice}, Then: StateWaitPods},
		"check":       {States: []string{StateWaitAnalysis, StateCheck, StateCheckChoice}, Then: StateWaitAnalysis},
		"analysis":    {States: []string{StateWaitAnalysis, StateCheck, StateCheckChoice, StateAnalyse, StateNextAction}, Then: StateWaitAnalysis},
		"shift":       {States: []string{StateShift}, Then: StateWaitAnalysis},
		"hook run":    {States: []string{StateRunHooks, StateHookNext}, Then: StateRunHooks},
		"hook wait":   {States: []string{StateWaitHook, StateRunHooks, StateHookNext}, Then: StateWaitHook},
		"hook invoke": {States: []string{StateInvokeHook, StateRunHooks, StateHookNext}, Then: StateInvokeHook},
	}
}

// Costs counts each path's history events in the definition itself, and
// fails when a path no longer runs through it: a loop that changed must
// change its path here too.
var Costs = sync.OnceValues(func() (spec.EventCosts, error) {
	def, err := Definition(Config{FunctionArn: "arn:count", TimeoutSeconds: 1})
	if err != nil {
		return spec.EventCosts{}, err
	}
	var parsed struct {
		States map[string]struct {
			Type, Next, Default string
			Choices             []struct{ Next string }
		}
	}
	if err := json.Unmarshal([]byte(def), &parsed); err != nil {
		return spec.EventCosts{}, fmt.Errorf("count history events: %w", err)
	}
	paths := CountedPaths()
	cost := func(name string) (int, error) {
		p := paths[name]
		total := 0
		for i, state := range p.States {
			st, ok := parsed.States[state]
			if !ok {
				return 0, fmt.Errorf("count history events of %q: the definition has no state %q", name, state)
			}
			total += stateEvents[st.Type]
			next := p.Then
			if i+1 < len(p.States) {
				next = p.States[i+1]
			}
			leads := []string{st.Next, st.Default}
			for _, c := range st.Choices {
				leads = append(leads, c.Next)
			}
			if next != "" && !slices.Contains(leads, next) {
				return 0, fmt.Errorf("count history events of %q: state %q does not lead to %q", name, state, next)
			}
			if next == "" && st.Type != "Succeed" && st.Type != "Fail" {
				return 0, fmt.Errorf("count history events of %q: it ends at %q, which does not end the execution", name, state)
			}
		}
		return total, nil
	}
	costs := map[string]int{}
	for name := range paths {
		n, err := cost(name)
		if err != nil {
			return spec.EventCosts{}, err
		}
		costs[name] = n
	}
	return spec.EventCosts{
		Fixed:      executionEvents + costs["start"] + max(costs["promote"], costs["roll back"]),
		ReadyPoll:  costs["ready poll"],
		Check:      costs["check"],
		Analysis:   costs["analysis"],
		Shift:      costs["shift"],
		HookRun:    costs["hook run"],
		HookWait:   costs["hook wait"],
		HookInvoke: costs["hook invoke"],
	}, nil
})
