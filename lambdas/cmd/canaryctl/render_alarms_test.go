package main

import (
	"strings"
	"testing"
)

func TestAlarmVerdictShown(t *testing.T) {
	snap := sampleSnapshot()
	v := &snap.Status.Verdicts[0]
	v.Result, v.Reason = "fail", "alarm gate"
	v.Alarms = `alarm "yelb-5xx" is in ALARM since 2026-11-25T18:40:01Z: Threshold Crossed`
	frame := strings.Join(Frame(snap, 0), "\n")
	if !strings.Contains(frame, `(alarm gate)  alarm "yelb-5xx" is in ALARM since 2026-11-25T18:40:01Z`) {
		t.Errorf("frame lacks the alarm verdict:\n%s", frame)
	}
	if line := Line(snap); !strings.Contains(line, `| fail requests=1200`) || !strings.Contains(line, ` alarm "yelb-5xx" is in ALARM`) {
		t.Errorf("line lacks the alarm verdict: %s", line)
	}
	v.Result, v.Reason, v.Alarms = "pass", "", "alarms: yelb-5xx OK"
	if frame := strings.Join(Frame(snap, 0), "\n"); !strings.Contains(frame, "alarms: yelb-5xx OK") {
		t.Errorf("frame lacks the passing alarm verdict:\n%s", frame)
	}
}
