package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/status"
)

// barCells is the width of the traffic bar: one cell per 5%.
const barCells = 20

// Bar draws weight (percent) as a bar of cells: Bar(50, 10) is "[#####.....]".
func Bar(weight, cells int) string {
	weight = min(max(weight, 0), 100)
	filled := (weight*cells + 50) / 100
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", cells-filled) + "]"
}

// Traffic is the bar with the weight and what comes next.
func Traffic(st status.Status) string {
	line := fmt.Sprintf("%s %d%%", Bar(st.Weight, barCells), st.Weight)
	switch {
	case status.Terminal(st.Phase):
	case st.Phase == status.PhasePaused:
		line += " (paused)"
	case st.Phase == status.PhaseWaiting:
		line += " → waiting for promote"
	case st.Phase == status.PhaseBaking:
		line += " (baking)"
	case st.NextWeight > st.Weight:
		line += fmt.Sprintf(" → next %d%%", st.NextWeight)
	}
	return line
}

// version prints a version number, or "-" when there is none.
func version(v int) string {
	if v <= 0 {
		return "-"
	}
	return "v" + strconv.Itoa(v)
}

func step(st status.Status) string {
	if st.Steps == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", st.Step, st.Steps)
}

func percent(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 2, 64) + "%"
}

func millis(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 0, 64) + " ms"
}

func pValue(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

// Phase is the phase with what the operator asked and the engine has not
// honoured yet, so that `status` right after `pause` does not look ignored.
func Phase(snap status.Snapshot) string {
	st, c := snap.Status, snap.Control
	phase := st.Phase
	if phase == "" {
		phase = "Unknown"
	}
	var pending []string
	if !status.Terminal(st.Phase) {
		if c.Paused && st.Phase != status.PhasePaused {
			pending = append(pending, "pause requested")
		}
		if !c.Paused && st.Phase == status.PhasePaused {
			pending = append(pending, "resume requested")
		}
		if c.Request != "" {
			pending = append(pending, c.Request+" requested")
		}
	}
	if len(pending) > 0 {
		phase += " (" + strings.Join(pending, ", ") + ")"
	}
	return phase
}

// LastVerdict is the newest analysis result in a few characters.
func LastVerdict(st status.Status) string {
	if len(st.Verdicts) == 0 {
		return "-"
	}
	v := st.Verdicts[0]
	if v.SuccessRate != nil {
		return v.Result + " " + percent(v.SuccessRate)
	}
	return v.Result
}

func age(since, now time.Time) string {
	if since.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(since))
}

// StatusTable lists rollouts, one a row; withNamespace adds the namespace
// column for an all-namespaces listing.
func StatusTable(snaps []status.Snapshot, now time.Time, withNamespace bool) string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	if withNamespace {
		fmt.Fprint(w, "NAMESPACE\t")
	}
	fmt.Fprintln(w, "NAME\tPHASE\tSTABLE\tCANARY\tWEIGHT\tSTEP\tLAST-VERDICT\tAGE")
	for _, snap := range snaps {
		st := snap.Status
		if withNamespace {
			fmt.Fprintf(w, "%s\t", st.Namespace)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d%%\t%s\t%s\t%s\n",
			st.Microservice, Phase(snap), version(st.StableVersion), version(st.CanaryVersion),
			st.Weight, step(st), LastVerdict(st), age(st.StartedAt, now))
	}
	w.Flush()
	for _, snap := range snaps {
		if st := snap.Status; (st.Replicas != nil || st.BlueGreen != nil) && !status.Terminal(st.Phase) {
			fmt.Fprintf(&buf, "%s: %s\n", st.Microservice, Strategy(st))
		}
		if st := snap.Status; st.Stage != "" && !status.Terminal(st.Phase) {
			fmt.Fprintf(&buf, "%s: %s, %s\n", st.Microservice, dash(st.Strategy), st.Stage)
		}
	}
	// Each rollout's latest hook result, under the table.
	for _, snap := range snaps {
		if st := snap.Status; len(st.Hooks) > 0 {
			fmt.Fprintf(&buf, "%s %s\n", st.Microservice, strings.TrimSpace(strings.TrimPrefix(HookLines(status.Status{Hooks: st.Hooks[:1]})[0], "hooks")))
		}
	}
	// A failed roll back blocks every later rollout: say how to get out.
	for _, snap := range snaps {
		if st := snap.Status; st.Phase == status.PhaseFailed {
			fmt.Fprintf(&buf, "\n%s: the roll back of %s did not complete and no rollout can start. Fix the cause, then run: %s\n",
				st.Microservice, version(st.CanaryVersion), RecoverCommand(st))
		}
	}
	return buf.String()
}

// HistoryTable lists finished rollouts, newest first.
func HistoryTable(records []status.Record) string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "CANARY\tIMAGE\tFROM\tOUTCOME\tSTARTED\tDURATION\tREASON")
	for _, r := range records {
		started := "-"
		if !r.StartedAt.IsZero() {
			started = r.StartedAt.UTC().Format("2006-01-02 15:04:05")
		}
		reason := r.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			version(r.CanaryVersion), dash(r.CanaryImage), version(r.StableVersion), r.Phase, started, took(r), reason)
	}
	w.Flush()
	return buf.String()
}

// took is how long a finished rollout ran, rounded as kubectl rounds ages;
// the dashboard shows the same string.
func took(r status.Record) string {
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
		return "-"
	}
	return duration.HumanDuration(r.FinishedAt.Sub(r.StartedAt))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "--:--:--"
	}
	return t.UTC().Format("15:04:05")
}

// verdictFigures are the analysis figures of one verdict; aligned pads them
// to fixed widths so that successive verdicts line up in a frame.
func verdictFigures(v status.Verdict, aligned bool) string {
	requests := strconv.FormatFloat(v.Requests, 'f', -1, 64)
	success, p99 := percent(v.SuccessRate), strings.ReplaceAll(millis(v.LatencyP99), " ", "")
	if aligned {
		return fmt.Sprintf("requests %-6s  success %-7s  p99 %-6s  p-value %s", requests, success, p99, pValue(v.PValue)) + queryFigures(v.Queries, "  ", " ")
	}
	return fmt.Sprintf("requests=%s success=%s p99=%s p-value=%s", requests, success, p99, pValue(v.PValue)) + queryFigures(v.Queries, " ", "=")
}

// queryFigures are the custom queries' answers, "-" for one without.
func queryFigures(qs []status.QueryResult, sep, eq string) string {
	var b strings.Builder
	for _, q := range qs {
		value := "-"
		if q.Value != nil {
			value = strconv.FormatFloat(*q.Value, 'g', 4, 64)
		}
		b.WriteString(sep + q.Name + eq + value)
	}
	return b.String()
}

// Frame is the live view of one rollout, as lines, each at most width runes
// so that redrawing in place never meets a wrapped line.
func Frame(snap status.Snapshot, width int) []string {
	st := snap.Status
	lines := []string{
		fmt.Sprintf("%s in %s", st.Microservice, st.Namespace),
		fmt.Sprintf("phase     %s", Phase(snap)),
		fmt.Sprintf("step      %s", step(st)),
		fmt.Sprintf("stable    %-5s %s", version(st.StableVersion), st.StableImage),
		fmt.Sprintf("canary    %-5s %s", version(st.CanaryVersion), st.CanaryImage),
		"traffic   " + Traffic(st),
	}
	if st.Replicas != nil || st.BlueGreen != nil {
		lines = append(lines, "strategy  "+Strategy(st))
	}
	if st.Stage != "" {
		lines = append(lines, fmt.Sprintf("stage     %s (%s)", st.Stage, dash(st.Strategy)))
	}
	if len(st.Verdicts) == 0 {
		lines = append(lines, "analysis  no results yet")
	}
	for i, v := range st.Verdicts {
		label := "analysis  "
		if i > 0 {
			label = "          "
		}
		line := fmt.Sprintf("%s%s  %3d%%  %-6s  %s", label, clock(v.At), v.Weight, v.Result, verdictFigures(v, true))
		if v.Reason != "" {
			line += "  (" + v.Reason + ")"
		}
		if v.Pods != "" {
			line += "  pods: " + v.Pods
		}
		if v.Alarms != "" {
			line += "  " + v.Alarms
		}
		lines = append(lines, line)
	}
	lines = append(lines, HookLines(st)...)
	if st.Reason != "" {
		lines = append(lines, "reason    "+st.Reason)
	}
	for _, w := range st.Warnings {
		lines = append(lines, "warning   "+w)
	}
	if t := st.TookOver; t != nil {
		lines = append(lines, fmt.Sprintf("took over %s abandoned by execution %s: rolled back at %s before this rollout started",
			version(t.Version), t.Execution, clock(t.At)))
	}
	lines = append(lines, fmt.Sprintf("updated   %s  execution %s", clock(st.UpdatedAt), dash(st.Execution)))
	for i, l := range lines {
		lines[i] = truncate(l, width)
	}
	return lines
}

func truncate(s string, width int) string {
	if width <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width == 1 {
		return "…"
	}
	return string(r[:width-1]) + "…"
}

// Strategy is the strategy and, when the canary's replicas follow its
// weight, its replica counts: "canary, replicas 2 of 4 (proportional)".
func Strategy(st status.Status) string {
	out := dash(st.Strategy)
	if r := st.Replicas; r != nil {
		out += fmt.Sprintf(", replicas %d of %d (%s)", r.Canary, r.Template, r.Scale)
		if r.Scaling {
			out += ", scaling up before the next shift"
		}
	}
	if bg := st.BlueGreen; bg != nil {
		out += ", " + BlueGreenStage(*bg)
	}
	return out
}

// BlueGreenStage says where a blue-green rollout is, in words.
func BlueGreenStage(bg status.BlueGreen) string {
	switch bg.Stage {
	case status.StagePreview:
		if bg.Preview == "" {
			return "preview: the new version has no production traffic"
		}
		return "preview: the new version has no production traffic; test it by " + bg.Preview
	case status.StageSwitched:
		return "switched: all traffic on the new version"
	case status.StageBaking:
		return "baking: all traffic on the new version, the old one ready for a roll back"
	case status.StageOldKept:
		if bg.OldKeptUntil == nil {
			return "old version kept for an instant roll back"
		}
		return "old version kept until " + clock(*bg.OldKeptUntil) + " for an instant roll back"
	}
	return bg.Stage
}

// Line is one rollout state on one line, for logs and pipes.
func Line(snap status.Snapshot) string {
	st := snap.Status
	line := fmt.Sprintf("%s %s %s step %s canary %s %s", clock(st.UpdatedAt), st.Microservice, Phase(snap), step(st), version(st.CanaryVersion), Traffic(st))
	if r := st.Replicas; r != nil {
		line += fmt.Sprintf(" replicas %d/%d", r.Canary, r.Template)
	}
	if bg := st.BlueGreen; bg != nil {
		line += " stage " + bg.Stage
		if bg.OldKeptUntil != nil {
			line += " until " + clock(*bg.OldKeptUntil)
		}
	}
	if st.Stage != "" {
		line += " " + st.Stage
	}
	if len(st.Verdicts) > 0 {
		v := st.Verdicts[0]
		line += fmt.Sprintf(" | %s %s", v.Result, verdictFigures(v, false))
		if v.Pods != "" {
			line += " pods: " + v.Pods
		}
		if v.Alarms != "" {
			line += " " + v.Alarms
		}
	}
	if st.Reason != "" {
		line += " | reason: " + st.Reason
	}
	return line
}

// Exit codes of canaryctl; see usage.
const (
	exitOK         = 0
	exitError      = 1
	exitUsage      = 2
	exitNotFound   = 3
	exitRefused    = 4
	exitRolledBack = 5
	exitFailed     = 6
	exitTimeout    = 7
	exitInvalid    = 8
	exitInterrupt  = 130
)

// Outcome says how a finished rollout ended and the exit code of `watch`.
func Outcome(st status.Status) (string, int) {
	reason := ""
	if st.Reason != "" {
		reason = ": " + st.Reason
	}
	switch st.Phase {
	case status.PhaseSucceeded:
		return fmt.Sprintf("Rollout succeeded: %s %s serves all traffic.", st.Microservice, version(st.CanaryVersion)), exitOK
	case status.PhaseRolledBack:
		serves := ""
		if st.StableVersion > 0 {
			serves = fmt.Sprintf(" and %s serves all traffic", version(st.StableVersion))
		}
		return fmt.Sprintf("Rolled back: %s %s was removed%s%s", st.Microservice, version(st.CanaryVersion), serves, reason), exitRolledBack
	case status.PhaseInvalid:
		return fmt.Sprintf("Refused: the API server refused %s %s before anything was written; traffic did not move%s",
			st.Microservice, version(st.CanaryVersion), reason), exitInvalid
	default:
		msg := fmt.Sprintf("Rollout failed: %s needs an operator, the roll back did not complete%s", st.Microservice, reason)
		if recover := RecoverCommand(st); !strings.Contains(msg, recover) {
			msg += fmt.Sprintf(". Fix the cause, then run: %s", recover)
		}
		return msg, exitFailed
	}
}

// RecoverCommand finishes a failed roll back of st's microservice.
func RecoverCommand(st status.Status) string {
	return engine.RecoverCommand(st.Namespace, st.Microservice)
}

// Recovered tells the operator what the recovery left.
func Recovered(st status.Status) string {
	serves := ""
	if st.StableVersion > 0 {
		serves = fmt.Sprintf(" and %s serves all traffic", version(st.StableVersion))
	}
	return fmt.Sprintf("Recovered: %s %s was removed%s; the lock is released and the next rollout can start.",
		st.Microservice, version(st.CanaryVersion), serves)
}

// Requested tells the operator what happens next after a request.
func Requested(action status.Action, st status.Status) string {
	at := fmt.Sprintf("%s %s at %d%%", st.Microservice, version(st.CanaryVersion), st.Weight)
	canary, stable := version(st.CanaryVersion), version(st.StableVersion)
	switch action {
	case status.ActionPause:
		return fmt.Sprintf("Pause requested for %s: the engine holds this weight from its next step. Continue with: canaryctl resume %s", at, st.Microservice)
	case status.ActionResume:
		return fmt.Sprintf("Resume requested for %s: the engine continues from its next step.", at)
	case status.ActionPromote:
		if st.StableVersion <= 0 {
			return fmt.Sprintf("Promote requested for %s: at its next step the engine sends all traffic to %s.", at, canary)
		}
		return fmt.Sprintf("Promote requested for %s: at its next step the engine sends all traffic to %s and retires %s.", at, canary, stable)
	default:
		if st.StableVersion <= 0 {
			return fmt.Sprintf("Abort requested for %s: at its next step the engine removes %s.", at, canary)
		}
		return fmt.Sprintf("Abort requested for %s: at its next step the engine sends all traffic back to %s and removes %s.", at, stable, canary)
	}
}

// HookLines are the latest hook results, newest first, one a line.
func HookLines(st status.Status) []string {
	var lines []string
	for i, h := range st.Hooks {
		label := "hooks     "
		if i > 0 {
			label = "          "
		}
		result := "passed"
		if !h.Passed {
			result = "FAILED"
		}
		line := fmt.Sprintf("%s%s  %-17s %-6s %s  %s", label, clock(h.At), h.Point, h.Kind, h.Hook, result)
		if h.Output != "" {
			line += ": " + strings.Join(strings.Fields(h.Output), " ")
		}
		lines = append(lines, line)
	}
	return lines
}
