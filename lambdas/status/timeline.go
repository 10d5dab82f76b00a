package status

import (
	"slices"
	"time"
)

// TimelineLimit is how many points a rollout's timeline keeps, the oldest
// dropped first. A point encodes to about 200 bytes, so a full timeline adds
// some 25 KiB to the status ConfigMap, far below the API server's 1 MiB.
const TimelineLimit = 120

// Point is the rollout at one status write: enough to plot the traffic
// weight and the analysis figures over time. The figures are the verdict
// analysed since the previous point, if any.
type Point struct {
	At          time.Time `json:"at"`
	Weight      int       `json:"weight"`
	Phase       string    `json:"phase"`
	Result      string    `json:"result,omitempty"`
	Requests    *float64  `json:"requests,omitempty"`
	SuccessRate *float64  `json:"successRate,omitempty"`
	LatencyP99  *float64  `json:"latencyP99Ms,omitempty"`
	PValue      *float64  `json:"pValue,omitempty"`
	// Queries are the custom queries' answers (analysis.queries).
	Queries []QueryResult `json:"queries,omitempty"`
}

// extendTimeline is the timeline of st after the write that replaces prev.
// The timeline lives in the ConfigMap only (never in the Step Functions
// state), so each write carries the previous points forward: a new
// execution starts a fresh timeline, a write that changes nothing a plot
// shows adds no point, and the newest TimelineLimit points are kept.
func extendTimeline(prev, st Status) []Point {
	var points []Point
	if prev.Execution == st.Execution {
		points = prev.Timeline
	}
	var last *Point
	if len(points) > 0 {
		last = &points[len(points)-1]
	}
	p := Point{At: st.UpdatedAt, Weight: st.Weight, Phase: st.Phase}
	if len(st.Verdicts) > 0 {
		v := st.Verdicts[0]
		if last == nil || v.At.After(last.At) {
			requests := v.Requests
			p.Result, p.Requests, p.SuccessRate, p.LatencyP99, p.PValue = v.Result, &requests, v.SuccessRate, v.LatencyP99, v.PValue
			p.Queries = v.Queries
		}
	}
	if last != nil && p.Result == "" && p.Weight == last.Weight && p.Phase == last.Phase {
		return points
	}
	points = append(slices.Clip(points), p)
	if len(points) > TimelineLimit {
		points = points[len(points)-TimelineLimit:]
	}
	return points
}
