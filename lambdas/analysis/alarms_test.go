package analysis

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestJudgeAlarms(t *testing.T) {
	since := time.Date(2026, 11, 25, 12, 3, 0, 0, time.FixedZone("CET", 3600))
	ok := AlarmState{Name: "shop-5xx", State: AlarmOK}
	noData := AlarmState{Name: "shop-p99", State: AlarmInsufficientData}
	firing := AlarmState{Name: "shop-5xx", State: AlarmAlarm, Since: since,
		Reason: "Threshold Crossed: 1 datapoint [12.0 (25/11/26 11:02:00)] was greater than the threshold (5.0)."}
	composite := AlarmState{Name: "shop-health", State: AlarmAlarm, Composite: true, Since: since, Reason: "  "}
	long := AlarmState{Name: "chatty", State: AlarmAlarm, Since: since, Reason: strings.Repeat("x", 400)}
	tests := []struct {
		name        string
		names       []string
		states      []AlarmState
		result      string
		alarms      []string
		missing     []string
		reason      []string
		reasonLacks []string
	}{
		{name: "all OK", names: []string{"shop-5xx"}, states: []AlarmState{ok}, result: ResultPass, reason: []string{"alarms: shop-5xx OK"}},
		{name: "no data passes", names: []string{"shop-5xx", "shop-p99"}, states: []AlarmState{ok, noData}, result: ResultPass,
			reason: []string{"shop-5xx OK, shop-p99 INSUFFICIENT_DATA"}},
		{name: "one in ALARM", names: []string{"shop-p99", "shop-5xx"}, states: []AlarmState{noData, firing}, result: ResultFail, alarms: []string{"shop-5xx"},
			reason:      []string{`alarm "shop-5xx" is in ALARM since 2026-11-25T11:03:00Z: Threshold Crossed: 1 datapoint [12.0`},
			reasonLacks: []string{"shop-p99"}},
		{name: "composite without a reason", names: []string{"shop-health"}, states: []AlarmState{composite}, result: ResultFail, alarms: []string{"shop-health"},
			reason: []string{`composite alarm "shop-health" is in ALARM since 2026-11-25T11:03:00Z: no reason given`}},
		{name: "missing alarm fails", names: []string{"shop-5xx", "typo"}, states: []AlarmState{ok}, result: ResultFail, missing: []string{"typo"},
			reason: []string{`alarm "typo" does not exist in this account and region`}},
		{name: "every failure named in order", names: []string{"shop-health", "gone", "shop-5xx"}, states: []AlarmState{firing, composite}, result: ResultFail,
			alarms: []string{"shop-health", "shop-5xx"}, missing: []string{"gone"},
			reason: []string{`composite alarm "shop-health" is in ALARM`, `; alarm "gone" does not exist`, `; alarm "shop-5xx" is in ALARM`}},
		{name: "long reasons are cut", names: []string{"chatty"}, states: []AlarmState{long}, result: ResultFail, alarms: []string{"chatty"},
			reason: []string{strings.Repeat("x", 300) + "..."}, reasonLacks: []string{strings.Repeat("x", 301)}},
		{name: "states of alarms not named are ignored", names: []string{"shop-p99"}, states: []AlarmState{noData, firing}, result: ResultPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := JudgeAlarms(tt.names, tt.states)
			if v.Result != tt.result || !slices.Equal(v.Alarms, tt.alarms) || !slices.Equal(v.Missing, tt.missing) {
				t.Errorf("JudgeAlarms = %+v, want result %s, alarms %v, missing %v", v, tt.result, tt.alarms, tt.missing)
			}
			for _, want := range tt.reason {
				if !strings.Contains(v.Reason, want) {
					t.Errorf("reason %q lacks %q", v.Reason, want)
				}
			}
			for _, not := range tt.reasonLacks {
				if strings.Contains(v.Reason, not) {
					t.Errorf("reason %q holds %q", v.Reason, not)
				}
			}
		})
	}
}
