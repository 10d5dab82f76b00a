package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
)

// A plan must finish inside one execution: within the stack's
// rolloutTimeoutSeconds, and within Step Functions' history of 25,000
// events, of which every wait the plan polls through costs some. The worst
// case takes every configured wait at its longest: readiness up to
// progress_deadline, every step for its wait_time analysed every interval
// and checked every pod_check_interval, hooks up to their timeout, gates
// held up to their hold, the bake and scale_down_delay, and a
// manual_promotion hold polled until the execution times out. Holds for
// missing data, failed analyses below consecutive_failure_limit, waits for
// a proportional canary's new replicas and operator pauses are not
// counted: they depend on what happens, not on deploy.json, and end at
// progress_deadline or the execution's timeout.

// EventCosts are the history events of each loop of the state machine,
// counted from its definition (statemachine.Costs).
type EventCosts struct {
	// Fixed is the path through no loop: the execution's own events,
	// Validate, Lock, Deploy, the first look at readiness, and the
	// promotion or the roll back.
	Fixed      int
	ReadyPoll  int // one more look at the canary's readiness
	Check      int // one pod and alarm check that does not lead to an analysis
	Analysis   int // one analysis with the check before it
	Shift      int // one traffic shift
	HookRun    int // one run of "Run hooks": an HTTP call, a Job created or judged, a Lambda hook prepared
	HookWait   int // one more look at a Job hook after a wait
	HookInvoke int // a Lambda hook's function invoked and its answer judged
}

// Limits are what one execution allows a plan.
type Limits struct {
	Timeout time.Duration // the state machine's TimeoutSeconds: the stack's rolloutTimeoutSeconds
	Settle  time.Duration // the router's settle time: no analysis comes sooner after a shift
	Costs   EventCosts
	// Plan is the rollout's traffic weights with a stable version to
	// split with (rollout.Plan), the longest plan deploy.json can take.
	Plan []int
}

// Part is one field's share of a worst case.
type Part struct {
	Field  string // e.g. "hooks[1].hold"
	Value  string // the field's value
	Amount int    // seconds or history events it adds

	lever lever
}

// lever moves a field to see whether a smaller (or, with raise, larger)
// value fits.
type lever struct {
	set     func(*Spec, int)
	current int
	bound   int // the lowest value allowed, or with raise the highest
	raise   bool
}

// WorstCaseSeconds is the longest a rollout of s takes within l, and the
// fields it comes from, largest first.
func WorstCaseSeconds(s Spec, l Limits) (int, []Part) {
	t := walk(s, l)
	return t.seconds, sorted(t.secondParts)
}

// WorstCaseEvents is the most history events a rollout of s records within
// l, and the fields they come from, largest first.
func WorstCaseEvents(s Spec, l Limits) (int, []Part) {
	t := walk(s, l)
	return t.events, sorted(t.eventParts)
}

// HookCallSeconds is the longest one HTTP hook call takes: every attempt
// runs into its timeout, with a pause between two.
func HookCallSeconds(timeout, retries int) int {
	return timeout*(retries+1) + retries*seconds(contract.HookRetryPause)
}

// SecondsAllowed is how long a plan may take in an execution with
// timeout: the rest is kept for the engine's own steps and the roll back.
func SecondsAllowed(timeout time.Duration) int {
	return seconds(timeout) - seconds(contract.RolloutTimeoutMargin)
}

// EventsAllowed is the history a plan may use.
const EventsAllowed = contract.HistoryEvents - contract.HistoryReserve

// tally adds a plan up.
type tally struct {
	s                       Spec
	l                       Limits
	settle                  int // seconds
	seconds, events, checks int // checks: beyond one per analysis, before the execution's budget of them
	secondParts, eventParts map[string]*Part
}

func (t *tally) time(p Part, n int)  { t.seconds += n; addPart(t.secondParts, p, n) }
func (t *tally) event(p Part, n int) { t.events += n; addPart(t.eventParts, p, n) }

func addPart(parts map[string]*Part, p Part, n int) {
	if p.Field == "" || n == 0 {
		return
	}
	if got, ok := parts[p.Field]; ok {
		got.Amount += n
		return
	}
	p.Amount = n
	parts[p.Field] = &p
}

// sorted lists parts largest first.
func sorted(parts map[string]*Part) []Part {
	out := make([]Part, 0, len(parts))
	for _, p := range parts {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Part) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), cmp.Compare(a.Field, b.Field))
	})
	return out
}

// numberField is a number of deploy.json whose value may be moved towards
// bound to make a plan fit.
func numberField(name string, current, bound int, raise bool, set func(*Spec, int)) Part {
	return Part{Field: name, Value: strconv.Itoa(current), lever: lever{set: set, current: current, bound: bound, raise: raise}}
}

// walk goes through the plan in the order a rollout does.
func walk(s Spec, l Limits) *tally {
	t := &tally{s: s, l: l, secondParts: map[string]*Part{}, eventParts: map[string]*Part{}}
	c, a := l.Costs, s.Analysis
	t.settle = max(seconds(l.Settle), 1)
	t.events += c.Fixed
	t.hooks(HookPreRollout)

	poll := seconds(contract.ReadinessPoll)
	pd := numberField("progress_deadline", s.ProgressDeadline, MinProgressDeadline, false, func(s *Spec, v int) { s.ProgressDeadline = v })
	polls := ceilDiv(s.ProgressDeadline, poll)
	t.time(pd, polls*poll)
	t.event(pd, polls*c.ReadyPoll)
	t.hooks(HookPreTraffic)

	minWait := MinWaitTime
	if s.Router == contract.RouterGatewayAPI {
		minWait = MinWaitTimeGatewayAPI
	}
	for i, weight := range l.Plan {
		if i > 0 {
			t.hooks(HookConfirmTraffic) // every shift after the first is an analysis's decision
		}
		t.events += c.Shift
		switch {
		case i == 0 && weight == 0 && s.HasAB():
			t.stretch(numberField("ab.duration", s.AB.Duration, minWait, false, func(s *Spec, v int) { s.AB.Duration = v }), s.AB.Duration, 0)
		case weight < 100:
			t.stretch(numberField("wait_time", s.WaitTime, max(minWait, a.Interval), false, func(s *Spec, v int) { s.WaitTime = v }), s.WaitTime, 0)
		default:
			// A full interval at 100% first, then the bake, then
			// (blue-green) the old version kept for scale_down_delay.
			bake := Part{} // the first interval is the plan's own
			if s.BakeTime > 0 {
				bake = numberField("bake_time", s.BakeTime, 0, false, func(s *Spec, v int) { s.BakeTime = v })
			}
			baked := t.stretch(bake, s.BakeTime, max(a.Interval, t.settle))
			if delay := ptrValue(s.ScaleDownDelay); s.BlueGreen() && s.BakeTime+delay > baked {
				t.stretch(numberField("scale_down_delay", delay, 0, false, func(s *Spec, v int) { s.ScaleDownDelay = &v }), s.BakeTime+delay-baked, 0)
			}
		}
	}
	t.hooks(HookConfirmPromotion)
	t.hooks(t.longerNotifyPoint())

	if s.ManualPromotion {
		// An operator may promote just before the execution times out;
		// until then the rollout analyses every interval.
		every := max(a.Interval, t.settle)
		cycles := ceilDiv(max(seconds(l.Timeout)-t.seconds, 0), every)
		t.event(Part{Field: "manual_promotion", Value: "true"}, cycles*c.Analysis)
		t.checks += cycles * t.checksIn(every)
	}
	checks := numberField("analysis.pod_check_interval", a.PodCheckInterval, a.Interval, true, func(s *Spec, v int) { s.Analysis.PodCheckInterval = v })
	t.event(checks, min(t.checks, contract.MaxPodChecks)*c.Check)
	return t
}

// stretch adds one weight analysed every interval until length has passed,
// as rollout.WaitSeconds schedules it: the first analysis after first
// seconds (zero: an interval, or length if shorter), the last one on time,
// none sooner than the settle time after the one before. It returns the
// seconds spent.
func (t *tally) stretch(at Part, length, first int) int {
	interval := t.s.Analysis.Interval
	wait := first
	if wait == 0 {
		wait = max(min(interval, length), t.settle)
	}
	var secs, analyses int
	for {
		secs += wait
		analyses++
		t.checks += t.checksIn(wait)
		if secs >= length {
			break
		}
		wait = max(min(interval, length-secs), t.settle)
	}
	t.time(at, secs)
	t.event(at, analyses*t.l.Costs.Analysis)
	return secs
}

// checksIn are the pod checks during a wait of secs beyond the one that
// leads to the analysis.
func (t *tally) checksIn(secs int) int { return ceilDiv(secs, t.s.Analysis.PodCheckInterval) - 1 }

// hooks adds the hooks of one point, and the holds of its gates: while one
// fails, the rollout analyses again after an interval and asks every hook
// of the point again, until the longest hold has passed.
func (t *tally) hooks(point string) {
	c, a := t.l.Costs, t.s.Analysis
	var runSecs, runEvents, longest int
	held := Part{}
	for i, h := range t.s.Hooks {
		if h.Point != point {
			continue
		}
		secs, events, p := hookCost(i, h, c)
		t.time(p, secs)
		t.event(p, events)
		runSecs += secs
		runEvents += events
		if h.Gate() && h.Hold > longest {
			longest = h.Hold
			held = numberField(fmt.Sprintf("hooks[%d].hold", i), h.Hold, 1, false, func(s *Spec, v int) {
				s.Hooks = slices.Clone(s.Hooks)
				s.Hooks[i].Hold = v
			})
		}
	}
	if longest == 0 {
		return
	}
	again := ceilDiv(longest, a.Interval) - 1
	t.time(held, again*(a.Interval+runSecs))
	t.event(held, again*(c.Analysis+runEvents))
	t.checks += again * t.checksIn(a.Interval)
}

// hookCost is one run of hook i: its longest time, its events and the field
// that bounds them.
func hookCost(i int, h Hook, c EventCosts) (secs, events int, p Part) {
	timeout := numberField(fmt.Sprintf("hooks[%d].timeout", i), h.Timeout, 1, false, func(s *Spec, v int) {
		s.Hooks = slices.Clone(s.Hooks)
		s.Hooks[i].Timeout = v
	})
	switch h.Kind {
	case HookHTTP:
		return HookCallSeconds(h.Timeout, ptrValue(h.Retries)), c.HookRun, timeout
	case HookJob:
		poll := seconds(contract.JobHookPoll)
		polls := ceilDiv(h.Timeout, poll)
		return polls * poll, c.HookRun + polls*c.HookWait, timeout
	default:
		// A Lambda hook runs as long as its function, which deploy.json
		// does not say.
		return 0, c.HookRun + c.HookInvoke, Part{Field: fmt.Sprintf("hooks[%d]", i), Value: strconv.Quote(h.Name)}
	}
}

// longerNotifyPoint is post_rollout or on_rollback, whichever takes longer:
// an execution ends with one of them.
func (t *tally) longerNotifyPoint() string {
	cost := func(point string) (int, int) {
		var secs, events int
		for i, h := range t.s.Hooks {
			if h.Point == point {
				s, e, _ := hookCost(i, h, t.l.Costs)
				secs, events = secs+s, events+e
			}
		}
		return secs, events
	}
	ps, pe := cost(HookPostRollout)
	rs, re := cost(HookOnRollback)
	if rs > ps || (rs == ps && re > pe) {
		return HookOnRollback
	}
	return HookPostRollout
}

// limitProblems refuses a plan that does not fit l, naming the fields its
// worst case comes from and the value of the largest that would fit.
func (s Spec) limitProblems(l Limits) []FieldError {
	var out []FieldError
	timeout, allowed := seconds(l.Timeout), SecondsAllowed(l.Timeout)
	if secs, parts := WorstCaseSeconds(s, l); secs > allowed && len(parts) > 0 {
		fix := s.fixes(parts, "s", func(s Spec) bool { n, _ := WorstCaseSeconds(s, l); return n <= allowed })
		fix = append(fix, fmt.Sprintf("or raise the stack's %s to at least %d", contract.ConfigRolloutTimeout, secs+timeout-allowed))
		out = append(out, FieldError{Field: parts[0].Field, Value: parts[0].Value,
			Problem: fmt.Sprintf("makes the rollout's worst case %d s, longer than the stack's %s (%d s) allows: %d s, with %d s kept for the engine's own steps and the roll back",
				secs, contract.ConfigRolloutTimeout, timeout, allowed, timeout-allowed),
			Allowed: strings.Join(fix, "; ")})
	}
	if events, parts := WorstCaseEvents(s, l); events > EventsAllowed && len(parts) > 0 {
		fix := s.fixes(parts, "events", func(s Spec) bool { n, _ := WorstCaseEvents(s, l); return n <= EventsAllowed })
		out = append(out, FieldError{Field: parts[0].Field, Value: parts[0].Value,
			Problem: fmt.Sprintf("makes the rollout's worst case %d Step Functions history events, more than the %d an execution may use (%d, less %d kept for retries and the roll back)",
				events, EventsAllowed, contract.HistoryEvents, contract.HistoryReserve),
			Allowed: strings.Join(fix, "; ")})
	}
	return out
}

// fixes say what would make the plan fit: the value of its largest part
// that fits, and the other large parts.
func (s Spec) fixes(parts []Part, unit string, fit func(Spec) bool) []string {
	var out []string
	top := parts[0]
	if v, ok := s.fits(top.lever, fit); ok {
		move := "lower %s to at most %d"
		if top.lever.raise {
			move = "raise %s to at least %d"
		}
		out = append(out, fmt.Sprintf(move, top.Field, v))
	}
	if top.Field == "manual_promotion" {
		out = append(out, fmt.Sprintf("the hold for an operator analyses every analysis.interval until the execution times out: raise analysis.interval, or lower the stack's %s", contract.ConfigRolloutTimeout))
	}
	if len(parts) > 1 {
		out = append(out, "the other large parts: "+listParts(parts[1:], unit))
	}
	return out
}

// fits finds the value of the lever's field nearest to its current one
// that makes ok hold, between the current value and the bound.
func (s Spec) fits(lv lever, ok func(Spec) bool) (int, bool) {
	if lv.set == nil || lv.bound == lv.current || lv.raise != (lv.bound > lv.current) {
		return 0, false
	}
	try := func(v int) bool {
		c := s
		lv.set(&c, v)
		return ok(c)
	}
	// good fits and bad does not; the current value is known not to.
	good, bad := lv.bound, lv.current
	if !try(good) {
		return 0, false
	}
	for good-bad > 1 || bad-good > 1 {
		if mid := bad + (good-bad)/2; try(mid) {
			good = mid
		} else {
			bad = mid
		}
	}
	return good, true
}

// listParts names the largest parts of a worst case.
func listParts(parts []Part, unit string) string {
	const shown = 4
	var names []string
	for _, p := range parts[:min(len(parts), shown)] {
		names = append(names, fmt.Sprintf("%s %s adds %d %s", p.Field, p.Value, p.Amount, unit))
	}
	return strings.Join(names, ", ")
}

// hookCallProblems refuses an HTTP hook whose call may outlast the engine
// step that makes it: the Lambda would time out and the state machine post
// the webhook again. It judges only a timeout and retries in range.
func (s Spec) hookCallProblems() []FieldError {
	var out []FieldError
	budget, pause := seconds(contract.HookCallBudget), seconds(contract.HookRetryPause)
	for i, h := range s.Hooks {
		if h.Kind != HookHTTP || h.Retries == nil {
			continue
		}
		timeout, retries := h.Timeout, *h.Retries
		if timeout < 1 || timeout > MaxHTTPTimeout || retries < 0 || retries > MaxHTTPRetries {
			continue
		}
		worst := HookCallSeconds(timeout, retries)
		if worst <= budget {
			continue
		}
		fix := []string{fmt.Sprintf("lower hooks[%d].timeout to at most %d", i, (budget-retries*pause)/(retries+1))}
		if most := (budget - timeout) / (timeout + pause); most >= 0 {
			fix = append(fix, fmt.Sprintf("or hooks[%d].retries to at most %d", i, most))
		}
		out = append(out, FieldError{Field: fmt.Sprintf("hooks[%d].timeout", i), Value: strconv.Itoa(timeout),
			Problem: fmt.Sprintf("with hooks[%d].retries %d can take %d s (%d requests of %d s, %d s apart)", i, retries, worst, retries+1, timeout, pause),
			Allowed: fmt.Sprintf("keep one call within %d s, the engine step's budget for a webhook: %s", budget, strings.Join(fix, " "))})
	}
	return out
}

// withoutFields drops the problems about a field that over already
// judges.
func withoutFields(problems, over []FieldError) []FieldError {
	return slices.DeleteFunc(problems, func(p FieldError) bool {
		return slices.ContainsFunc(over, func(o FieldError) bool { return o.Field == p.Field })
	})
}

func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

func ceilDiv(a, b int) int {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

func ptrValue(v *int) int {
	if v == nil {
		return 0
	}
	return *v
}
