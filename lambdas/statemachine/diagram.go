package statemachine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// aslState is the part of an ASL state the diagram draws.
type aslState struct {
	Type    string    `json:"Type"`
	Next    string    `json:"Next"`
	Default string    `json:"Default"`
	Choices []aslRule `json:"Choices"`
	Catch   []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		Next        string   `json:"Next"`
	} `json:"Catch"`
	Error string `json:"Error"`
}

type edge struct{ from, to, label string }

// Mermaid draws a definition (the JSON Definition returns) as a Mermaid state
// diagram: every state, every Next, Choice rule, Default and Catch, and every
// terminal state ending in [*]. The documentation embeds its output, so the
// picture cannot drift from what Step Functions runs.
func Mermaid(definition string) (string, error) {
	var def struct {
		StartAt string              `json:"StartAt"`
		States  map[string]aslState `json:"States"`
	}
	if err := json.Unmarshal([]byte(definition), &def); err != nil {
		return "", fmt.Errorf("state diagram: decode definition: %w", err)
	}
	if _, ok := def.States[def.StartAt]; !ok {
		return "", fmt.Errorf("state diagram: StartAt %q names no state", def.StartAt)
	}

	ids := map[string]string{}
	owner := map[string]string{}
	for name := range def.States {
		id := mermaidID(name)
		if other, taken := owner[id]; taken {
			return "", fmt.Errorf("state diagram: states %q and %q both draw as %s: rename one", other, name, id)
		}
		ids[name], owner[id] = id, name
	}

	// Depth first from StartAt, each state's own transitions before those of
	// the states they lead to and Next before Catch, so the text is stable and
	// reads in the order a rollout runs.
	var order []string
	var edges []edge
	seen := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		seen[name] = true
		order = append(order, name)
		out, err := stateEdges(name, def.States[name])
		if err != nil {
			return err
		}
		edges = append(edges, mergeEdges(out)...)
		for _, e := range out {
			if _, ok := def.States[e.to]; !ok {
				return fmt.Errorf("state diagram: state %q goes to %q, which is not a state", name, e.to)
			}
			if !seen[e.to] {
				if err := visit(e.to); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := visit(def.StartAt); err != nil {
		return "", err
	}
	var unreachable []string
	for name := range def.States {
		if !seen[name] {
			unreachable = append(unreachable, name)
		}
	}
	if len(unreachable) > 0 {
		slices.Sort(unreachable)
		return "", fmt.Errorf("state diagram: no path from %q reaches %s", def.StartAt, strings.Join(unreachable, ", "))
	}

	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	for _, name := range order {
		fmt.Fprintf(&b, "  state %q as %s\n", name, ids[name])
	}
	fmt.Fprintf(&b, "  [*] --> %s\n", ids[def.StartAt])
	for _, e := range edges {
		if e.label == "" {
			fmt.Fprintf(&b, "  %s --> %s\n", ids[e.from], ids[e.to])
		} else {
			fmt.Fprintf(&b, "  %s --> %s: %s\n", ids[e.from], ids[e.to], e.label)
		}
	}
	var failed []string
	for _, name := range order {
		switch def.States[name].Type {
		case "Succeed":
			fmt.Fprintf(&b, "  %s --> [*]\n", ids[name])
		case "Fail":
			fmt.Fprintf(&b, "  %s --> [*]\n", ids[name])
			failed = append(failed, ids[name])
		}
	}
	if len(failed) > 0 {
		b.WriteString("  classDef failed fill:#fde2e1,stroke:#c0392b\n")
		fmt.Fprintf(&b, "  class %s failed\n", strings.Join(failed, ","))
	}
	return b.String(), nil
}

// stateEdges lists a state's transitions with the condition that takes each.
func stateEdges(name string, s aslState) ([]edge, error) {
	var out []edge
	if s.Next != "" {
		out = append(out, edge{name, s.Next, ""})
	}
	for _, c := range s.Choices {
		label, err := c.label()
		if err != nil {
			return nil, fmt.Errorf("state diagram: state %q: %w", name, err)
		}
		out = append(out, edge{name, c.Next, label})
	}
	if s.Default != "" {
		out = append(out, edge{name, s.Default, "otherwise"})
	}
	for i, c := range s.Catch {
		label := strings.Join(c.ErrorEquals, ", ")
		if slices.Equal(c.ErrorEquals, []string{"States.ALL"}) {
			label = "any error"
			if i > 0 {
				label = "any other error"
			}
		}
		out = append(out, edge{name, c.Next, label})
	}
	return out, nil
}

// mergeEdges draws two transitions between the same states as one arrow.
func mergeEdges(in []edge) []edge {
	var out []edge
	for _, e := range in {
		i := slices.IndexFunc(out, func(o edge) bool { return o.to == e.to })
		switch {
		case i < 0:
			out = append(out, e)
		case e.label != "" && out[i].label != "":
			out[i].label += " / " + e.label
		case e.label != "":
			out[i].label = e.label
		}
	}
	return out
}

// mermaidID makes a state name an identifier: "Deploy canary at 0%" becomes
// DeployCanaryAt0.
func mermaidID(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

type aslRule struct {
	Variable      string    `json:"Variable"`
	StringEquals  *string   `json:"StringEquals"`
	BooleanEquals *bool     `json:"BooleanEquals"`
	IsPresent     *bool     `json:"IsPresent"`
	And           []aslRule `json:"And"`
	Next          string    `json:"Next"`
}

// label is the condition a choice rule tests, as the diagram shows it.
func (r aslRule) label() (string, error) {
	variable := strings.TrimPrefix(r.Variable, "$.rollout.")
	switch {
	case r.And != nil:
		var parts []string
		for _, inner := range r.And {
			l, err := inner.label()
			if err != nil {
				return "", err
			}
			if inner.IsPresent == nil { // "x present and x = y" reads as "x = y"
				parts = append(parts, l)
			}
		}
		return strings.Join(parts, " and "), nil
	case r.StringEquals != nil:
		return variable + " = " + *r.StringEquals, nil
	case r.BooleanEquals != nil:
		return variable + " = " + strconv.FormatBool(*r.BooleanEquals), nil
	case r.IsPresent != nil:
		return variable + " present = " + strconv.FormatBool(*r.IsPresent), nil
	}
	return "", fmt.Errorf("a choice rule the diagram cannot draw (StringEquals, BooleanEquals, IsPresent and And only)")
}
