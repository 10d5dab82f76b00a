package rollout

import (
	"testing"
	"time"
)

func TestCheckWait(t *testing.T) {
	tests := []struct {
		name      string
		remaining time.Duration
		every     time.Duration
		checks    int
		want      int
	}{
		{"a full interval ahead", 60 * time.Second, 5 * time.Second, 0, 5},
		{"less than one check left", 3 * time.Second, 5 * time.Second, 7, 3},
		{"fractions round up", 2500 * time.Millisecond, 5 * time.Second, 7, 3},
		{"never below a second", 0, 5 * time.Second, 0, 1},
		{"one check per analysis", 60 * time.Second, 60 * time.Second, 0, 60},
		{"last check within the budget", 60 * time.Second, 5 * time.Second, MaxPodChecks - 1, 5},
		{"budget spent: wait for the analysis", 60 * time.Second, 5 * time.Second, MaxPodChecks, 60},
	}
	for _, tt := range tests {
		if got := CheckWait(tt.remaining, tt.every, tt.checks); got != tt.want {
			t.Errorf("%s: CheckWait(%s, %s, %d) = %d, want %d", tt.name, tt.remaining, tt.every, tt.checks, got, tt.want)
		}
	}
}

func TestNextCheck(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   CheckInput
		want CheckDecision
	}{
		{"interval not over", CheckInput{Now: now, AnalyseAt: now.Add(40 * time.Second), Every: 5 * time.Second, Checks: 4}, CheckDecision{WaitSeconds: 5}},
		{"last stretch", CheckInput{Now: now, AnalyseAt: now.Add(2 * time.Second), Every: 5 * time.Second, Checks: 11}, CheckDecision{WaitSeconds: 2}},
		{"due exactly", CheckInput{Now: now, AnalyseAt: now, Every: 5 * time.Second, Checks: 12}, CheckDecision{Analyse: true}},
		{"overdue", CheckInput{Now: now, AnalyseAt: now.Add(-time.Minute), Every: 5 * time.Second}, CheckDecision{Analyse: true}},
		{"under a second left", CheckInput{Now: now, AnalyseAt: now.Add(900 * time.Millisecond), Every: 5 * time.Second}, CheckDecision{Analyse: true}},
		{"abort pending", CheckInput{Now: now, AnalyseAt: now.Add(50 * time.Second), Every: 5 * time.Second, Abort: true}, CheckDecision{Analyse: true}},
		{"budget spent", CheckInput{Now: now, AnalyseAt: now.Add(50 * time.Second), Every: 5 * time.Second, Checks: MaxPodChecks}, CheckDecision{WaitSeconds: 50}},
	}
	for _, tt := range tests {
		if got := NextCheck(tt.in); got != tt.want {
			t.Errorf("%s: NextCheck = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
