package analysis

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CloudWatch alarm states.
const (
	AlarmOK               = "OK"
	AlarmAlarm            = "ALARM"
	AlarmInsufficientData = "INSUFFICIENT_DATA"
)

// AlarmState is one CloudWatch alarm as DescribeAlarms reports it.
type AlarmState struct {
	Name      string
	State     string // AlarmOK, AlarmAlarm or AlarmInsufficientData
	Reason    string // StateReason: why the alarm is in its state
	Since     time.Time
	Composite bool
	Log       bool // a log alarm: a CloudWatch Logs query against a threshold
}

// Alarms reads the state of named CloudWatch alarms. Alarms that do not
// exist are missing from the result.
type Alarms interface {
	AlarmStates(ctx context.Context, names []string) ([]AlarmState, error)
}

// AlarmVerdict is the judgement of the alarm gates.
type AlarmVerdict struct {
	Result  string   // ResultPass or ResultFail
	Alarms  []string // the alarms that failed the gate, in the order named
	Missing []string // named alarms that do not exist
	Reason  string
}

// reasonLimit keeps an alarm's state reason readable in a notice.
const reasonLimit = 300

// JudgeAlarms fails when any named alarm is in ALARM or does not exist; an
// alarm without data passes, as in ECS deployments, so a new alarm does
// not block releases. The reason names every failing alarm with its state
// reason and since when.
func JudgeAlarms(names []string, states []AlarmState) AlarmVerdict {
	byName := make(map[string]AlarmState, len(states))
	for _, s := range states {
		byName[s.Name] = s
	}
	var v AlarmVerdict
	var failed, passed []string
	for _, name := range names {
		s, ok := byName[name]
		switch {
		case !ok:
			v.Missing = append(v.Missing, name)
			failed = append(failed, fmt.Sprintf("alarm %q does not exist in this account and region", name))
		case s.State == AlarmAlarm:
			v.Alarms = append(v.Alarms, name)
			kind := "alarm"
			switch {
			case s.Composite:
				kind = "composite alarm"
			case s.Log:
				kind = "log alarm"
			}
			failed = append(failed, fmt.Sprintf("%s %q is in ALARM since %s: %s", kind, name, s.Since.UTC().Format(time.RFC3339), cut(s.Reason)))
		default:
			passed = append(passed, fmt.Sprintf("%s %s", name, s.State))
		}
	}
	if len(failed) > 0 {
		v.Result = ResultFail
		v.Reason = strings.Join(failed, "; ")
		return v
	}
	v.Result = ResultPass
	v.Reason = "alarms: " + strings.Join(passed, ", ")
	return v
}

func cut(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > reasonLimit {
		return string(r[:reasonLimit]) + "..."
	}
	if s == "" {
		return "no reason given"
	}
	return s
}
