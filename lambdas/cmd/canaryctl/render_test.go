package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/status"
)

func ptr(f float64) *float64 { return &f }

func TestBar(t *testing.T) {
	tests := []struct {
		weight, cells int
		want          string
	}{
		{0, 10, "[..........]"},
		{50, 10, "[#####.....]"},
		{100, 10, "[##########]"},
		{10, 20, "[##..................]"},
		{33, 10, "[###.......]"},
		{35, 10, "[####......]"}, // rounds half up
		{4, 10, "[..........]"},
		{150, 10, "[##########]"}, // clamped
		{-5, 10, "[..........]"},
	}
	for _, tt := range tests {
		if got := Bar(tt.weight, tt.cells); got != tt.want {
			t.Errorf("Bar(%d, %d) = %q, want %q", tt.weight, tt.cells, got, tt.want)
		}
	}
}

func TestTraffic(t *testing.T) {
	tests := []struct {
		name string
		st   status.Status
		want string
	}{
		{"progressing", status.Status{Phase: status.PhaseProgressing, Weight: 50, NextWeight: 60}, "[##########..........] 50% → next 60%"},
		{"waiting for pods", status.Status{Phase: status.PhaseWaitingPods, Weight: 0, NextWeight: 10}, "[....................] 0% → next 10%"},
		{"paused", status.Status{Phase: status.PhasePaused, Weight: 30, NextWeight: 40}, "[######..............] 30% (paused)"},
		{"waiting promotion", status.Status{Phase: status.PhaseWaiting, Weight: 50, NextWeight: 50}, "[##########..........] 50% → waiting for promote"},
		{"baking", status.Status{Phase: status.PhaseBaking, Weight: 100, NextWeight: 100}, "[####################] 100% (baking)"},
		{"succeeded", status.Status{Phase: status.PhaseSucceeded, Weight: 100, NextWeight: 100}, "[####################] 100%"},
		{"rolled back", status.Status{Phase: status.PhaseRolledBack, Weight: 0, NextWeight: 60}, "[....................] 0%"},
	}
	for _, tt := range tests {
		if got := Traffic(tt.st); got != tt.want {
			t.Errorf("%s: Traffic = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPhaseShowsPendingRequests(t *testing.T) {
	tests := []struct {
		phase   string
		control status.Control
		want    string
	}{
		{status.PhaseProgressing, status.Control{}, "Progressing"},
		{status.PhaseProgressing, status.Control{Paused: true}, "Progressing (pause requested)"},
		{status.PhasePaused, status.Control{Paused: true}, "Paused"},
		{status.PhasePaused, status.Control{}, "Paused (resume requested)"},
		{status.PhaseProgressing, status.Control{Request: status.RequestAbort}, "Progressing (abort requested)"},
		{status.PhaseProgressing, status.Control{Paused: true, Request: status.RequestPromote}, "Progressing (pause requested, promote requested)"},
		{status.PhaseSucceeded, status.Control{Paused: true}, "Succeeded"},
		{"", status.Control{}, "Unknown"},
	}
	for _, tt := range tests {
		got := Phase(status.Snapshot{Status: status.Status{Phase: tt.phase}, Control: tt.control})
		if got != tt.want {
			t.Errorf("Phase(%s, %+v) = %q, want %q", tt.phase, tt.control, got, tt.want)
		}
	}
}

func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	snaps := []status.Snapshot{
		{Status: status.Status{Microservice: "yelb-appserver", Namespace: "yelb", Phase: status.PhaseProgressing,
			StableVersion: 3, CanaryVersion: 4, Weight: 30, Step: 3, Steps: 10, StartedAt: now.Add(-95 * time.Second),
			Verdicts: []status.Verdict{{Result: "pass", SuccessRate: ptr(99.5)}, {Result: "fail"}}},
			Control: status.Control{Paused: true}},
		{Status: status.Status{Microservice: "yelb-ui", Namespace: "yelb", Phase: status.PhaseSucceeded,
			StableVersion: 7, CanaryVersion: 7, Weight: 100, Step: 5, Steps: 5, StartedAt: now.Add(-3 * time.Hour),
			Verdicts: []status.Verdict{{Result: "nodata"}}}},
		{Status: status.Status{Microservice: "yelb-db", Namespace: "yelb", Phase: status.PhaseWaitingPods, StableVersion: 1}},
	}
	want := "" +
		"NAME             PHASE                           STABLE   CANARY   WEIGHT   STEP   LAST-VERDICT   AGE\n" +
		"yelb-appserver   Progressing (pause requested)   v3       v4       30%      3/10   pass 99.50%    95s\n" +
		"yelb-ui          Succeeded                       v7       v7       100%     5/5    nodata         3h\n" +
		"yelb-db          WaitingForReady                 v1       -        0%       -      -              -\n"
	if got := StatusTable(snaps, now, false); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	withNS := StatusTable(snaps[:1], now, true)
	if !strings.HasPrefix(withNS, "NAMESPACE   NAME ") || !strings.Contains(withNS, "\nyelb        yelb-appserver ") {
		t.Errorf("all-namespaces table lacks the namespace column:\n%s", withNS)
	}
	failed := status.Snapshot{Status: status.Status{Microservice: "yelb-ui", Namespace: "yelb", Phase: status.PhaseFailed,
		StableVersion: 7, CanaryVersion: 8, Weight: 40, Step: 2, Steps: 5}}
	got := StatusTable(append(snaps[:1:1], failed), now, false)
	if want := "\nyelb-ui: the roll back of v8 did not complete and no rollout can start. Fix the cause, then run: canaryctl -n yelb recover yelb-ui\n"; !strings.HasSuffix(got, want) {
		t.Errorf("a failed roll back is not followed by its recovery:\n%s", got)
	}
}

func TestHistoryTable(t *testing.T) {
	start := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	records := []status.Record{
		{CanaryVersion: 5, CanaryImage: "repo/yelb-appserver:1.5", StableVersion: 4, Phase: status.PhaseRolledBack,
			Reason: "success rate 91.00% below 99%", StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 150*time.Second)},
		{CanaryVersion: 4, CanaryImage: "repo/yelb-appserver:1.4", StableVersion: 3, Phase: status.PhaseSucceeded,
			StartedAt: start, FinishedAt: start.Add(12 * time.Minute)},
		{CanaryVersion: 1, Phase: status.PhaseFailed},
	}
	want := "" +
		"CANARY   IMAGE                     FROM   OUTCOME      STARTED               DURATION   REASON\n" +
		"v5       repo/yelb-appserver:1.5   v4     RolledBack   2026-11-25 19:00:00   2m30s      success rate 91.00% below 99%\n" +
		"v4       repo/yelb-appserver:1.4   v3     Succeeded    2026-11-25 18:00:00   12m        -\n" +
		"v1       -                         -      Failed       -                     -          -\n"
	if got := HistoryTable(records); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func sampleSnapshot() status.Snapshot {
	at := time.Date(2026, 11, 25, 18, 40, 5, 0, time.UTC)
	return status.Snapshot{Status: status.Status{
		Microservice: "yelb-appserver", Namespace: "yelb", Execution: "exec-7", Phase: status.PhaseProgressing,
		StableVersion: 3, StableImage: "repo/yelb-appserver:1.3", CanaryVersion: 4, CanaryImage: "repo/yelb-appserver:1.4",
		Weight: 50, NextWeight: 60, Step: 5, Steps: 10, UpdatedAt: at,
		Verdicts: []status.Verdict{
			{At: at, Weight: 50, Result: "pass", Requests: 1200, Errors: 1, SuccessRate: ptr(99.9167), LatencyP99: ptr(120.4), PValue: ptr(0.41)},
			{At: at.Add(-30 * time.Second), Weight: 40, Result: "nodata", Requests: 3, Reason: "3 requests, fewer than 50"},
		},
	}}
}

func TestFrame(t *testing.T) {
	want := []string{
		"yelb-appserver in yelb",
		"phase     Progressing",
		"step      5/10",
		"stable    v3    repo/yelb-appserver:1.3",
		"canary    v4    repo/yelb-appserver:1.4",
		"traffic   [##########..........] 50% → next 60%",
		"analysis  18:40:05   50%  pass    requests 1200    success 99.92%   p99 120ms   p-value 0.410",
		"          18:39:35   40%  nodata  requests 3       success -        p99 -       p-value -  (3 requests, fewer than 50)",
		"updated   18:40:05  execution exec-7",
	}
	got := Frame(sampleSnapshot(), 0)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	narrow := Frame(sampleSnapshot(), 30)
	for _, l := range narrow {
		if n := len([]rune(l)); n > 30 {
			t.Errorf("line of %d runes in a 30-column frame: %q", n, l)
		}
	}
	if narrow[6] != "analysis  18:40:05   50%  pas…" {
		t.Errorf("truncated line = %q", narrow[6])
	}

	took := sampleSnapshot()
	took.Status.TookOver = &status.TakeOver{Execution: "exec-6", Version: 3, At: time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC)}
	if got := Frame(took, 0); got[len(got)-2] != "took over v3 abandoned by execution exec-6: rolled back at 18:30:00 before this rollout started" {
		t.Errorf("frame after a takeover:\n%s", strings.Join(got, "\n"))
	}

	warned := sampleSnapshot()
	warned.Status.Warnings = []string{"analysis.queries[0] (queue-errors) found no series for the stable version yelb-appserver-2"}
	if got := Frame(warned, 0); got[len(got)-2] != "warning   "+warned.Status.Warnings[0] {
		t.Errorf("frame with a warning:\n%s", strings.Join(got, "\n"))
	}

	rolled := sampleSnapshot()
	rolled.Status.Phase, rolled.Status.Weight, rolled.Status.Verdicts = status.PhaseRolledBack, 0, nil
	rolled.Status.Reason = "success rate 91.00% below 99%"
	got = Frame(rolled, 0)
	if got[6] != "analysis  no results yet" || got[7] != "reason    success rate 91.00% below 99%" {
		t.Errorf("rolled back frame:\n%s", strings.Join(got, "\n"))
	}
}

func TestPodHealthVerdictShown(t *testing.T) {
	snap := sampleSnapshot()
	snap.Status.Verdicts[0].Result, snap.Status.Verdicts[0].Reason = "fail", "pod health"
	snap.Status.Verdicts[0].Pods = "pod yelb-appserver-4-x container app was OOMKilled; last terminated: OOMKilled, exit code 137"
	frame := strings.Join(Frame(snap, 0), "\n")
	if !strings.Contains(frame, "(pod health)  pods: pod yelb-appserver-4-x container app was OOMKilled") {
		t.Errorf("frame lacks the pod-health verdict:\n%s", frame)
	}
	if line := Line(snap); !strings.Contains(line, "| fail requests=1200") || !strings.Contains(line, " pods: pod yelb-appserver-4-x container app was OOMKilled") {
		t.Errorf("line lacks the pod-health verdict: %s", line)
	}
}

func TestLine(t *testing.T) {
	want := "18:40:05 yelb-appserver Progressing step 5/10 canary v4 [##########..........] 50% → next 60% | pass requests=1200 success=99.92% p99=120ms p-value=0.410"
	if got := Line(sampleSnapshot()); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	paused := sampleSnapshot()
	paused.Control.Paused = true
	paused.Status.Verdicts = nil
	paused.Status.Reason = "held"
	want = "18:40:05 yelb-appserver Progressing (pause requested) step 5/10 canary v4 [##########..........] 50% → next 60% | reason: held"
	if got := Line(paused); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		st   status.Status
		want string
		code int
	}{
		{status.Status{Microservice: "yelb-appserver", Phase: status.PhaseSucceeded, CanaryVersion: 4, StableVersion: 4},
			"Rollout succeeded: yelb-appserver v4 serves all traffic.", exitOK},
		{status.Status{Microservice: "yelb-appserver", Phase: status.PhaseRolledBack, CanaryVersion: 5, StableVersion: 4, Reason: "p99 812 ms above 500 ms"},
			"Rolled back: yelb-appserver v5 was removed and v4 serves all traffic: p99 812 ms above 500 ms", exitRolledBack},
		{status.Status{Microservice: "yelb-appserver", Phase: status.PhaseRolledBack, CanaryVersion: 1},
			"Rolled back: yelb-appserver v1 was removed", exitRolledBack},
		{status.Status{Microservice: "yelb-appserver", Namespace: "yelb", Phase: status.PhaseFailed, Reason: "route update rejected"},
			"Rollout failed: yelb-appserver needs an operator, the roll back did not complete: route update rejected. Fix the cause, then run: canaryctl -n yelb recover yelb-appserver", exitFailed},
		{status.Status{Microservice: "yelb-appserver", Namespace: "yelb", Phase: status.PhaseFailed,
			Reason: "roll back failed: forbidden; fix the cause, then run `canaryctl -n yelb recover yelb-appserver`"},
			"Rollout failed: yelb-appserver needs an operator, the roll back did not complete: roll back failed: forbidden; fix the cause, then run `canaryctl -n yelb recover yelb-appserver`", exitFailed},
		{status.Status{Microservice: "yelb-appserver", Phase: status.PhaseInvalid, CanaryVersion: 5, StableVersion: 4, Reason: "exceeded quota"},
			"Refused: the API server refused yelb-appserver v5 before anything was written; traffic did not move: exceeded quota", exitInvalid},
	}
	for _, tt := range tests {
		got, code := Outcome(tt.st)
		if got != tt.want || code != tt.code {
			t.Errorf("Outcome(%s) = %q, %d; want %q, %d", tt.st.Phase, got, code, tt.want, tt.code)
		}
	}
}

func TestRequested(t *testing.T) {
	st := status.Status{Microservice: "yelb-appserver", CanaryVersion: 4, StableVersion: 3, Weight: 30}
	tests := []struct {
		action status.Action
		st     status.Status
		want   string
	}{
		{status.ActionPause, st, "Pause requested for yelb-appserver v4 at 30%: the engine holds this weight from its next step. Continue with: canaryctl resume yelb-appserver"},
		{status.ActionResume, st, "Resume requested for yelb-appserver v4 at 30%: the engine continues from its next step."},
		{status.ActionPromote, st, "Promote requested for yelb-appserver v4 at 30%: at its next step the engine sends all traffic to v4 and retires v3."},
		{status.ActionAbort, st, "Abort requested for yelb-appserver v4 at 30%: at its next step the engine sends all traffic back to v3 and removes v4."},
		{status.ActionAbort, status.Status{Microservice: "yelb-appserver", CanaryVersion: 1, Weight: 0},
			"Abort requested for yelb-appserver v1 at 0%: at its next step the engine removes v1."},
		{status.ActionPromote, status.Status{Microservice: "yelb-appserver", CanaryVersion: 1, Weight: 0},
			"Promote requested for yelb-appserver v1 at 0%: at its next step the engine sends all traffic to v1."},
	}
	for _, tt := range tests {
		if got := Requested(tt.action, tt.st); got != tt.want {
			t.Errorf("Requested(%s) =\n %q\nwant\n %q", tt.action, got, tt.want)
		}
	}
}

// TestTook: canaryctl history and the dashboard round a rollout's duration
// the same way, as kubectl rounds ages.
func TestTook(t *testing.T) {
	start := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		took time.Duration
		want string
	}{
		{0, "0s"},
		{45 * time.Second, "45s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{132 * time.Second, "2m12s"},
		{9*time.Minute + 59*time.Second, "9m59s"},
		{12*time.Minute + 30*time.Second, "12m"},
		{3*time.Hour + 5*time.Minute, "3h5m"},
		{30 * time.Hour, "30h"},
		{50 * time.Hour, "2d2h"},
	}
	var records []status.Record
	for _, tt := range tests {
		r := status.Record{Microservice: "yelb-appserver", StartedAt: start, FinishedAt: start.Add(tt.took)}
		if got := took(r); got != tt.want {
			t.Errorf("took(%v) = %q, want %q", tt.took, got, tt.want)
		}
		records = append(records, r)
	}
	// The page shows the dashboard's strings as they are.
	history, err := json.Marshal(records)
	if err != nil {
		t.Fatal(err)
	}
	v := viewOf(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "yelb", Name: naming.StatusConfigMap("yelb-appserver"), Labels: map[string]string{
			naming.LabelStatus: "true", naming.LabelManagedBy: naming.ManagedByValue, naming.LabelMicroservice: "yelb-appserver"}},
		Data: map[string]string{status.KeyStatus: `{"microservice":"yelb-appserver","phase":"Succeeded"}`, status.KeyHistory: string(history)},
	})
	if v.Error != "" || len(v.History) != len(tests) {
		t.Fatalf("dashboard view: error %q, %d records, want %d", v.Error, len(v.History), len(tests))
	}
	for i, tt := range tests {
		if got := v.History[i].Duration; got != tt.want {
			t.Errorf("the dashboard shows %v as %q, canaryctl history as %q", tt.took, got, tt.want)
		}
	}
	raw, err := json.Marshal(v.History[0])
	if err != nil || !strings.Contains(string(raw), `"duration":"0s"`) || !strings.Contains(string(raw), `"startedAt":"2026-11-25T18:00:00Z"`) {
		t.Errorf("a record in the page's JSON: %s, %v", raw, err)
	}
	for _, r := range []status.Record{{}, {StartedAt: start}, {FinishedAt: start}} {
		if got := took(r); got != "-" {
			t.Errorf("took(%+v) = %q, want -", r, got)
		}
	}
}
