package status

import (
	"encoding/json"
	"testing"
	"time"
)

func TestExtendTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	rate, p99 := 0.99, 120.0
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	write := func(exec string, min, weight int, phase string, verdicts ...Verdict) Status {
		return Status{Execution: exec, UpdatedAt: at(min), Weight: weight, Phase: phase, Verdicts: verdicts}
	}
	verdict := Verdict{At: at(2), Weight: 10, Result: "pass", Requests: 40, SuccessRate: &rate, LatencyP99: &p99}
	prev := write("exec-1", 1, 10, PhaseProgressing)
	prev.Timeline = []Point{{At: at(1), Weight: 10, Phase: PhaseProgressing}}

	cases := []struct {
		name string
		prev Status
		st   Status
		want []Point
	}{
		{"first write starts the timeline", Status{}, write("exec-1", 0, 0, PhaseWaitingPods),
			[]Point{{At: at(0), Weight: 0, Phase: PhaseWaitingPods}}},
		{"a new verdict adds its figures", prev, write("exec-1", 3, 20, PhaseProgressing, verdict),
			append(prev.Timeline, Point{At: at(3), Weight: 20, Phase: PhaseProgressing, Result: "pass", Requests: ptr(40.0), SuccessRate: &rate, LatencyP99: &p99})},
		{"a verdict already plotted is not repeated", prev, write("exec-1", 3, 20, PhaseProgressing, Verdict{At: at(0), Result: "pass"}),
			append(prev.Timeline, Point{At: at(3), Weight: 20, Phase: PhaseProgressing})},
		{"a write a plot cannot tell apart adds nothing", prev, write("exec-1", 4, 10, PhaseProgressing), prev.Timeline},
		{"a phase change is a point", prev, write("exec-1", 4, 10, PhasePaused),
			append(prev.Timeline, Point{At: at(4), Weight: 10, Phase: PhasePaused})},
		{"a new execution starts afresh", prev, write("exec-2", 9, 0, PhaseWaitingPods),
			[]Point{{At: at(9), Weight: 0, Phase: PhaseWaitingPods}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := extendTimeline(c.prev, c.st)
			if g, w := mustJSON(t, got), mustJSON(t, c.want); g != w {
				t.Errorf("timeline\n got %s\nwant %s", g, w)
			}
		})
	}
}

func TestExtendTimelineDoesNotAliasThePreviousPoints(t *testing.T) {
	prev := Status{Execution: "e", Timeline: make([]Point, 1, 8)}
	a := extendTimeline(prev, Status{Execution: "e", Weight: 10})
	b := extendTimeline(prev, Status{Execution: "e", Weight: 20})
	if a[1].Weight != 10 || b[1].Weight != 20 {
		t.Fatalf("two writes from one snapshot share points: %+v and %+v", a, b)
	}
}

// A timeline at its cap, every figure set, must keep the status ConfigMap
// far below the API server's 1 MiB object limit.
func TestFullTimelineStaysSmall(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	var st Status
	st.Execution = "arn:aws:states:eu-west-1:123456789012:execution:canary-yelb-appserver:deploy-yelb-appserver-v123-0123456789abcdef"
	for i := range 3 * TimelineLimit {
		rate, p99, pv := 0.987654321, 1234.56789, 0.0123456789
		prev := st
		st.UpdatedAt, st.Weight, st.Phase = t0.Add(time.Duration(i)*time.Minute), i%101, PhaseProgressing
		st.Verdicts = []Verdict{{At: st.UpdatedAt.Add(-time.Second), Result: "pass", Requests: 123456, SuccessRate: &rate, LatencyP99: &p99, PValue: &pv}}
		st.Timeline = extendTimeline(prev, st)
	}
	if len(st.Timeline) != TimelineLimit {
		t.Fatalf("timeline holds %d points, want the cap %d", len(st.Timeline), TimelineLimit)
	}
	if got, want := st.Timeline[0].At, t0.Add(time.Duration(2*TimelineLimit)*time.Minute); !got.Equal(want) {
		t.Errorf("oldest kept point at %s, want %s (the newest points kept)", got, want)
	}
	size := len(mustJSON(t, st.Timeline))
	if size > 32<<10 {
		t.Errorf("full timeline encodes to %d bytes; want under 32 KiB so the ConfigMap stays far below 1 MiB", size)
	}
	t.Logf("full timeline: %d points, %d bytes", len(st.Timeline), size)
}

func ptr(f float64) *float64 { return &f }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
