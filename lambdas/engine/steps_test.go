package engine

import (
	"encoding/json"
	"testing"

	"github.com/eks-canary/platform/lambdas/statemachine"
)

// Every Task of the definition names an action Handle serves: the roll back
// entries by themselves, the rest through the step table.
func TestEveryTaskOfTheDefinitionHasAStep(t *testing.T) {
	def, err := statemachine.Definition(statemachine.Config{FunctionArn: "arn:aws:lambda:us-west-2:123456789012:function:engine", TimeoutSeconds: 7200})
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal([]byte(def), &doc); err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if a, ok := v["action"].(string); ok {
				actions[a] = true
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if len(actions) < len(steps) {
		t.Fatalf("the definition names %d actions, fewer than the %d steps: %v", len(actions), len(steps), actions)
	}
	for a := range actions {
		switch a {
		case statemachine.ActionValidate, statemachine.ActionRollBack, statemachine.ActionRollBackFailed:
			continue
		}
		if _, ok := steps[a]; !ok {
			t.Errorf("the definition's action %q has no step", a)
		}
	}
	for a := range steps {
		if !actions[a] {
			t.Errorf("step %q is not a Task of the definition", a)
		}
	}
}
