package spec

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Alarm gates and the pod checks between analyses.
const (
	// DefaultPodCheckInterval keeps restart-to-stable within a few seconds
	// while costing three state transitions per check (see README).
	DefaultPodCheckInterval = 5 // capped at analysis.interval
	MinPodCheckInterval     = 2
	// MaxAlarms keeps one DescribeAlarms call per check; more signals
	// belong in a composite alarm.
	MaxAlarms = 10
	// MaxAlarmNameLength is CloudWatch's own limit on AlarmName.
	MaxAlarmNameLength = 255
)

// gateProblems checks analysis.alarms and analysis.pod_check_interval.
func gateProblems(a Analysis) []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: field, Value: value, Problem: problem, Allowed: allowed})
	}
	if a.PodCheckInterval < MinPodCheckInterval || a.PodCheckInterval > max(MinPodCheckInterval, a.Interval) {
		add("analysis.pod_check_interval", strconv.Itoa(a.PodCheckInterval), "is not allowed",
			fmt.Sprintf("use %d..%d seconds (at most analysis.interval): how often the canary's pods and alarms are checked between analyses", MinPodCheckInterval, max(MinPodCheckInterval, a.Interval)))
	}
	if len(a.Alarms) > MaxAlarms {
		add("analysis.alarms", fmt.Sprintf("%d names", len(a.Alarms)), "has too many alarms",
			fmt.Sprintf("name at most %d alarms; combine more signals in a CloudWatch composite alarm and name that", MaxAlarms))
	}
	seen := map[string]int{}
	for i, name := range a.Alarms {
		field := fmt.Sprintf("analysis.alarms[%d]", i)
		if why := AlarmNameProblem(name); why != "" {
			add(field, QuoteValue(name), why, fmt.Sprintf("give the name of a CloudWatch alarm in the cluster's account and region: 1..%d UTF-8 characters, no control characters", MaxAlarmNameLength))
			continue
		}
		if first, dup := seen[name]; dup {
			add(field, QuoteValue(name), fmt.Sprintf("repeats analysis.alarms[%d]", first), "name each alarm once")
			continue
		}
		seen[name] = i
	}
	return out
}

// AlarmNameProblem says why name cannot be a CloudWatch alarm name, or "".
func AlarmNameProblem(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "is empty"
	case !utf8.ValidString(name):
		return "is not UTF-8"
	case utf8.RuneCountInString(name) > MaxAlarmNameLength:
		return fmt.Sprintf("is longer than %d characters", MaxAlarmNameLength)
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return "contains a control character"
	}
	return ""
}
