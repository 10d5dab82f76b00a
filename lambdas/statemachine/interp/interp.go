// Package interp runs a state machine definition in-process. It implements
// exactly the subset of Amazon States Language (JSONPath) that
// statemachine.Definition generates and refuses anything else, so a local
// run follows the same transitions, retries and catches as Step Functions.
package interp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Invoke calls a Task's resource with the state's evaluated Parameters
// ("Payload" for a Lambda invoke) and returns the resource's result.
type Invoke func(ctx context.Context, state string, payload json.RawMessage) (json.RawMessage, error)

// Options are what a run needs from its caller.
type Options struct {
	Execution string                                     // $$.Execution.Id
	Invoke    Invoke                                     // runs a Task
	ErrorName func(error) string                         // the error name Retry and Catch match
	Sleep     func(context.Context, time.Duration) error // Wait and Retry intervals
}

// Result is how an execution ended.
type Result struct {
	Status string // SUCCEEDED or FAILED; empty when Run returned an error
	State  string // the terminal state
	Error  string // a Fail state's Error
	Cause  string // a Fail state's Cause
	Output json.RawMessage
	// History lists every state entered, retried or caught, in order, as an
	// execution's event history does.
	History []Event
	// Caught is the last error a Catch handled, as the error it was.
	Caught error
}

// Event is one entry of the history.
type Event struct {
	Type  string // StateEntered, StateRetried or StateCaught
	State string
	Error string // the error name, for StateRetried and StateCaught
}

// Entered lists the states entered, in order.
func (r Result) Entered() []string {
	var names []string
	for _, e := range r.History {
		if e.Type == EventEntered {
			names = append(names, e.State)
		}
	}
	return names
}

// History event types, named as in Step Functions' execution history.
const (
	EventEntered = "StateEntered"
	EventRetried = "StateRetried"
	EventCaught  = "StateCaught"
)

// Machine is a parsed, checked definition.
type Machine struct {
	startAt string
	timeout time.Duration // the whole execution's TimeoutSeconds
	states  map[string]*state
}

type state struct {
	Type           string
	Resource       string
	Parameters     map[string]any
	OutputPath     string
	ResultSelector map[string]any
	ResultPath     string
	TimeoutSeconds int
	Next           string
	Retry          []retrier
	Catch          []catcher
	Choices        []choice
	Default        string
	SecondsPath    string
	Error, Cause   string
}

type retrier struct {
	ErrorEquals     []string
	IntervalSeconds float64
	MaxAttempts     int
	BackoffRate     float64
	MaxDelaySeconds float64
}

type catcher struct {
	ErrorEquals []string
	ResultPath  string
	Next        string
}

type choice struct {
	Variable      string
	StringEquals  *string
	BooleanEquals *bool
	IsPresent     *bool
	And           []choice
	Next          string
}

// allowed lists the fields implemented for each state type.
var allowed = map[string][]string{
	"Task":    {"Type", "Resource", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "TimeoutSeconds", "Next", "Retry", "Catch", "Comment"},
	"Choice":  {"Type", "Choices", "Default", "Comment"},
	"Wait":    {"Type", "SecondsPath", "Next", "Comment"},
	"Succeed": {"Type", "Comment"},
	"Fail":    {"Type", "Error", "Cause", "Comment"},
}

var allowedNested = map[string][]string{
	"Retry":   {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds"},
	"Catch":   {"ErrorEquals", "ResultPath", "Next"},
	"Choices": {"Variable", "StringEquals", "BooleanEquals", "IsPresent", "And", "Next"},
}

// Parse checks a definition and refuses every construct it does not run.
func Parse(definition string) (*Machine, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(definition), &top); err != nil {
		return nil, fmt.Errorf("definition: %w", err)
	}
	if err := only("definition", top, "Comment", "QueryLanguage", "StartAt", "TimeoutSeconds", "States"); err != nil {
		return nil, err
	}
	var lang, startAt string
	_ = json.Unmarshal(top["QueryLanguage"], &lang)
	if lang != "" && lang != "JSONPath" {
		return nil, fmt.Errorf("definition: QueryLanguage %q is not supported; only JSONPath", lang)
	}
	if err := json.Unmarshal(top["StartAt"], &startAt); err != nil || startAt == "" {
		return nil, errors.New("definition: StartAt is missing")
	}
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["States"], &raw); err != nil {
		return nil, fmt.Errorf("definition: States: %w", err)
	}
	var timeout int
	if top["TimeoutSeconds"] != nil {
		if err := json.Unmarshal(top["TimeoutSeconds"], &timeout); err != nil {
			return nil, fmt.Errorf("definition: TimeoutSeconds: %w", err)
		}
	}
	m := &Machine{startAt: startAt, timeout: time.Duration(timeout) * time.Second, states: map[string]*state{}}
	for name, fields := range raw {
		var typ string
		_ = json.Unmarshal(fields["Type"], &typ)
		keys, ok := allowed[typ]
		if !ok {
			return nil, fmt.Errorf("state %q: Type %q is not supported", name, typ)
		}
		if err := only(fmt.Sprintf("state %q", name), fields, keys...); err != nil {
			return nil, err
		}
		for field, inner := range allowedNested {
			var list []map[string]json.RawMessage
			if fields[field] == nil {
				continue
			}
			if err := json.Unmarshal(fields[field], &list); err != nil {
				return nil, fmt.Errorf("state %q: %s: %w", name, field, err)
			}
			for i, x := range list {
				if err := only(fmt.Sprintf("state %q %s[%d]", name, field, i), x, inner...); err != nil {
					return nil, err
				}
			}
		}
		whole, _ := json.Marshal(fields)
		s := &state{}
		if err := json.Unmarshal(whole, s); err != nil {
			return nil, fmt.Errorf("state %q: %w", name, err)
		}
		if err := s.check(name); err != nil {
			return nil, err
		}
		m.states[name] = s
	}
	for name, s := range m.states {
		targets := []string{s.Next, s.Default}
		for _, c := range s.Catch {
			targets = append(targets, c.Next)
		}
		for _, c := range s.Choices {
			targets = append(targets, c.Next)
		}
		for _, t := range targets {
			if t != "" && m.states[t] == nil {
				return nil, fmt.Errorf("state %q: goes to %q, which is not defined", name, t)
			}
		}
	}
	if m.states[startAt] == nil {
		return nil, fmt.Errorf("definition: StartAt %q is not defined", startAt)
	}
	return m, nil
}

func only(where string, fields map[string]json.RawMessage, keys ...string) error {
	for k := range fields {
		if !slices.Contains(keys, k) {
			return fmt.Errorf("%s: field %q is not supported by the local interpreter", where, k)
		}
	}
	return nil
}

func (s *state) check(name string) error {
	switch {
	case s.Type == "Task" && s.Resource != "arn:aws:states:::lambda:invoke":
		return fmt.Errorf("state %q: Resource %q is not supported; only arn:aws:states:::lambda:invoke", name, s.Resource)
	case (s.Type == "Task" || s.Type == "Wait") && s.Next == "":
		return fmt.Errorf("state %q: Next is missing (End is not supported)", name)
	case s.Type == "Wait" && s.SecondsPath == "":
		return fmt.Errorf("state %q: only Wait with SecondsPath is supported", name)
	case s.Type == "Choice" && s.Default == "":
		return fmt.Errorf("state %q: a Choice needs a Default", name)
	}
	for i, c := range s.Choices {
		if err := c.check(); err != nil {
			return fmt.Errorf("state %q: Choices[%d]: %w", name, i, err)
		}
	}
	for i, c := range s.Catch {
		if c.ResultPath != "" && !strings.HasPrefix(c.ResultPath, "$.") {
			return fmt.Errorf("state %q: Catch[%d].ResultPath %q: only $.field paths are supported", name, i, c.ResultPath)
		}
	}
	return nil
}

// Run executes the machine from StartAt on input until a Succeed or Fail
// state. It returns an error only when the run could not reach one: ctx
// ended (or the definition's TimeoutSeconds did), or a Task failed with no
// Catch.
func (m *Machine) Run(ctx context.Context, input json.RawMessage, opts Options) (Result, error) {
	if m.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	var res Result
	var doc any
	if err := json.Unmarshal(input, &doc); err != nil {
		return res, fmt.Errorf("execution input: %w", err)
	}
	name := m.startAt
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		s := m.states[name]
		res.History = append(res.History, Event{Type: EventEntered, State: name})
		switch s.Type {
		case "Succeed":
			res.Status, res.State, res.Output = "SUCCEEDED", name, mustJSON(doc)
			return res, nil
		case "Fail":
			res.Status, res.State, res.Error, res.Cause, res.Output = "FAILED", name, s.Error, s.Cause, mustJSON(doc)
			return res, nil
		case "Wait":
			secs, err := lookup(doc, s.SecondsPath)
			n, ok := secs.(float64)
			if err != nil || !ok {
				return res, fmt.Errorf("state %q: SecondsPath %s is not a number in the state", name, s.SecondsPath)
			}
			if err := opts.Sleep(ctx, time.Duration(n*float64(time.Second))); err != nil {
				return res, err
			}
			name = s.Next
		case "Choice":
			name = s.Default
			for _, c := range s.Choices {
				if c.holds(doc) {
					name = c.Next
					break
				}
			}
		case "Task":
			out, err := m.task(ctx, name, s, doc, opts, &res)
			if err == nil {
				doc, name = out, s.Next
				continue
			}
			if ctx.Err() != nil {
				return res, err
			}
			errName := opts.ErrorName(err)
			c := catchFor(s.Catch, errName)
			if c == nil {
				return res, fmt.Errorf("state %q: %w", name, err)
			}
			res.Caught = err
			res.History = append(res.History, Event{Type: EventCaught, State: name, Error: errName})
			if c.ResultPath != "" {
				doc, err = assign(doc, c.ResultPath, map[string]any{"Error": errName, "Cause": err.Error()})
				if err != nil {
					return res, fmt.Errorf("state %q: %w", name, err)
				}
			}
			name = c.Next
		}
	}
}

// task invokes the resource, retrying as the state's Retry says.
func (m *Machine) task(ctx context.Context, name string, s *state, doc any, opts Options, res *Result) (any, error) {
	params, err := evaluate(s.Parameters, doc, opts.Execution)
	if err != nil {
		return nil, fmt.Errorf("state %q: Parameters: %w", name, err)
	}
	body := mustJSON(params.(map[string]any)["Payload"])
	attempts := map[int]int{} // retrier index -> retries made
	for {
		callCtx, cancel := ctx, context.CancelFunc(func() {})
		if s.TimeoutSeconds > 0 {
			callCtx, cancel = context.WithTimeout(ctx, time.Duration(s.TimeoutSeconds)*time.Second)
		}
		out, err := opts.Invoke(callCtx, name, body)
		timedOut := callCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			var result any
			if err := json.Unmarshal(out, &result); err != nil {
				return nil, fmt.Errorf("state %q: result: %w", name, err)
			}
			return s.output(doc, map[string]any{"Payload": result}, opts.Execution)
		}
		if ctx.Err() != nil {
			return nil, err
		}
		errName := opts.ErrorName(err)
		if timedOut {
			errName = "States.Timeout"
			err = &timeoutError{err}
		}
		i := slices.IndexFunc(s.Retry, func(r retrier) bool { return equals(r.ErrorEquals, errName) })
		if i < 0 || attempts[i] >= s.Retry[i].MaxAttempts {
			return nil, err
		}
		if err := opts.Sleep(ctx, backoff(s.Retry[i], attempts[i])); err != nil {
			return nil, err
		}
		attempts[i]++
		res.History = append(res.History, Event{Type: EventRetried, State: name, Error: errName})
	}
}

// output applies ResultSelector, ResultPath and OutputPath to a Task's
// result, in that order, as Step Functions does.
func (s *state) output(doc, result any, execution string) (any, error) {
	var err error
	if s.ResultSelector != nil {
		if result, err = evaluate(s.ResultSelector, result, execution); err != nil {
			return nil, fmt.Errorf("ResultSelector: %w", err)
		}
	}
	if s.ResultPath != "" {
		if result, err = assign(doc, s.ResultPath, result); err != nil {
			return nil, err
		}
	}
	if s.OutputPath == "" {
		return result, nil
	}
	return lookup(result, s.OutputPath)
}

// timeoutError keeps the handler's error but is named States.Timeout.
type timeoutError struct{ error }

func (e *timeoutError) Unwrap() error { return e.error }

// backoff is IntervalSeconds × BackoffRate^retry, capped at MaxDelaySeconds.
func backoff(r retrier, retry int) time.Duration {
	interval := r.IntervalSeconds
	if interval == 0 {
		interval = 1
	}
	rate := r.BackoffRate
	if rate == 0 {
		rate = 2
	}
	secs := interval * math.Pow(rate, float64(retry))
	if r.MaxDelaySeconds > 0 {
		secs = min(secs, r.MaxDelaySeconds)
	}
	return time.Duration(secs * float64(time.Second))
}

func equals(names []string, name string) bool {
	return slices.Contains(names, name) || (slices.Contains(names, "States.ALL") && name != "States.Runtime")
}

func catchFor(catches []catcher, name string) *catcher {
	for i := range catches {
		if equals(catches[i].ErrorEquals, name) {
			return &catches[i]
		}
	}
	return nil
}

// check accepts a rule of exactly one comparator, or an And of such rules.
func (c choice) check() error {
	set := 0
	for _, present := range []bool{c.StringEquals != nil, c.BooleanEquals != nil, c.IsPresent != nil, c.And != nil} {
		if present {
			set++
		}
	}
	if set != 1 || (c.And != nil) == (c.Variable != "") {
		return errors.New("needs a Variable and exactly one of StringEquals, BooleanEquals, IsPresent, or an And of such rules")
	}
	for i, inner := range c.And {
		if inner.Next != "" || inner.And != nil {
			return fmt.Errorf("And[%d]: only plain rules without Next are supported", i)
		}
		if err := inner.check(); err != nil {
			return fmt.Errorf("And[%d]: %w", i, err)
		}
	}
	return nil
}

func (c choice) holds(doc any) bool {
	if c.And != nil {
		for _, inner := range c.And {
			if !inner.holds(doc) {
				return false
			}
		}
		return true
	}
	v, err := lookup(doc, c.Variable)
	if c.IsPresent != nil {
		return (err == nil) == *c.IsPresent
	}
	return err == nil && matches(c, v)
}

func matches(c choice, v any) bool {
	if c.StringEquals != nil {
		s, ok := v.(string)
		return ok && s == *c.StringEquals
	}
	b, ok := v.(bool)
	return ok && b == *c.BooleanEquals
}

// evaluate fills a Parameters template: a key ending ".$" takes the value
// at its path ("$" the state, "$.a.b" a field, "$$.Execution.Id" the context).
func evaluate(tmpl any, doc any, execution string) (any, error) {
	obj, ok := tmpl.(map[string]any)
	if !ok {
		return tmpl, nil
	}
	out := map[string]any{}
	for k, v := range obj {
		if key, ok := strings.CutSuffix(k, ".$"); ok {
			path, _ := v.(string)
			switch {
			case path == "$$.Execution.Id":
				out[key] = execution
			case strings.HasPrefix(path, "$$"):
				return nil, fmt.Errorf("%s: context path %q is not supported", k, path)
			default:
				val, err := lookup(doc, path)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				out[key] = val
			}
			continue
		}
		val, err := evaluate(v, doc, execution)
		if err != nil {
			return nil, err
		}
		out[k] = val
	}
	return out, nil
}

// fields splits a path of the form $ or $.a.b; anything richer is refused.
func fields(path string) ([]string, error) {
	if path == "$" {
		return nil, nil
	}
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok || rest == "" || strings.ContainsAny(rest, "[]*@?()'\" ") {
		return nil, fmt.Errorf("path %q: only $ and $.field.field paths are supported", path)
	}
	return strings.Split(rest, "."), nil
}

func lookup(doc any, path string) (any, error) {
	names, err := fields(path)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("path %s: %s is not in the state", path, n)
		}
		if doc, ok = obj[n]; !ok {
			return nil, fmt.Errorf("path %s: %s is not in the state", path, n)
		}
	}
	return doc, nil
}

// assign returns doc with value at path, as a ResultPath does.
func assign(doc any, path string, value any) (any, error) {
	names, err := fields(path)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return value, nil
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("ResultPath %s: the state is not an object", path)
	}
	out := map[string]any{}
	for k, v := range obj {
		out[k] = v
	}
	if len(names) == 1 {
		out[names[0]] = value
		return out, nil
	}
	inner, err := assign(out[names[0]], "$."+strings.Join(names[1:], "."), value)
	if err != nil {
		return nil, err
	}
	out[names[0]] = inner
	return out, nil
}

func mustJSON(v any) json.RawMessage {
	out, _ := json.Marshal(v) // decoded from JSON: always encodes
	return out
}
