package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestGatesDefaultsAndKeptValues(t *testing.T) {
	s, err := Parse(encode(t, original()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Analysis.PodCheckInterval != DefaultPodCheckInterval || len(s.Analysis.Alarms) != 0 {
		t.Errorf("defaults: pod_check_interval %d, alarms %v; want %d and none", s.Analysis.PodCheckInterval, s.Analysis.Alarms, DefaultPodCheckInterval)
	}
	s, err = Parse(encode(t, with(map[string]any{"analysis": map[string]any{
		"interval": 60, "pod_check_interval": 60, "alarms": []string{"shop-5xx", "shop p99 > 300 ms", "Ümlaut/alarm"}}})))
	if err != nil {
		t.Fatal(err)
	}
	if s.Analysis.PodCheckInterval != 60 || !slices.Equal(s.Analysis.Alarms, []string{"shop-5xx", "shop p99 > 300 ms", "Ümlaut/alarm"}) {
		t.Errorf("kept %+v", s.Analysis)
	}
	if d := s.WithDefaults(); &d.Analysis.Alarms[0] == &s.Analysis.Alarms[0] {
		t.Error("WithDefaults shares the alarm list with its receiver")
	}
}

func TestGatesRejected(t *testing.T) {
	tooMany := make([]string, MaxAlarms+1)
	for i := range tooMany {
		tooMany[i] = "alarm-" + string(rune('a'+i))
	}
	cases := []struct {
		name     string
		analysis map[string]any
		want     []string
	}{
		{"pod check below the floor", map[string]any{"pod_check_interval": 1}, []string{"analysis.pod_check_interval: 1 is not allowed: use 2..60 seconds (at most analysis.interval)"}},
		{"pod check written as zero", map[string]any{"pod_check_interval": 0}, []string{"analysis.pod_check_interval: 0 is not allowed"}},
		{"pod check above the interval", map[string]any{"interval": 30, "pod_check_interval": 31}, []string{"analysis.pod_check_interval: 31 is not allowed: use 2..30 seconds"}},
		{"empty alarm name", map[string]any{"alarms": []string{"ok", " "}}, []string{`analysis.alarms[1]: " " is empty: give the name of a CloudWatch alarm`}},
		{"alarm name too long", map[string]any{"alarms": []string{strings.Repeat("a", 256)}}, []string{"analysis.alarms[0]:", "is longer than 255 characters"}},
		{"control character", map[string]any{"alarms": []string{"shop\n5xx"}}, []string{`analysis.alarms[0]: "shop\n5xx" contains a control character`}},
		{"duplicate", map[string]any{"alarms": []string{"a", "b", "a"}}, []string{`analysis.alarms[2]: "a" repeats analysis.alarms[0]: name each alarm once`}},
		{"too many", map[string]any{"alarms": tooMany}, []string{"analysis.alarms: 11 names has too many alarms: name at most 10 alarms; combine more signals in a CloudWatch composite alarm"}},
		{"not a list", map[string]any{"alarms": "shop-5xx"}, []string{"analysis.alarms:", "has the wrong type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(map[string]any{"analysis": c.analysis})))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v, want *ValidationError", err)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("no problem contains %q; got:\n%v", want, err)
				}
			}
		})
	}
}

// A bad interval is reported once, under its own name, not again through
// the pod check interval derived from it.
func TestPodCheckIntervalFollowsABadInterval(t *testing.T) {
	_, err := Parse(encode(t, with(map[string]any{"analysis": map[string]any{"interval": 1}})))
	if err == nil || !strings.Contains(err.Error(), "analysis.interval: 1") || strings.Contains(err.Error(), "pod_check_interval") {
		t.Errorf("error %v, want analysis.interval alone", err)
	}
}

func TestAlarmNameProblem(t *testing.T) {
	for name, want := range map[string]string{
		"shop-5xx":                 "",
		"a":                        "",
		strings.Repeat("é", 255):   "",
		strings.Repeat("é", 256):   "is longer than 255 characters",
		"":                         "is empty",
		"tab\there":                "contains a control character",
		"del\x7f":                  "contains a control character",
		string([]byte{0xff, 0xfe}): "is not UTF-8",
	} {
		if got := AlarmNameProblem(name); got != want {
			t.Errorf("AlarmNameProblem(%q) = %q, want %q", name, got, want)
		}
	}
}
