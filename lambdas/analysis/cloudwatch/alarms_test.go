package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/eks-canary/platform/lambdas/analysis"
)

// fakeAlarms answers DescribeAlarms from the alarms it holds, as
// CloudWatch does: only the types asked for, pageSize alarms a page.
type fakeAlarms struct {
	metric    map[string]types.StateValue
	composite map[string]types.StateValue
	log       map[string]types.StateValue
	pageSize  int
	err       error
	calls     []*cw.DescribeAlarmsInput
}

func (f *fakeAlarms) DescribeAlarms(_ context.Context, in *cw.DescribeAlarmsInput, _ ...func(*cw.Options)) (*cw.DescribeAlarmsOutput, error) {
	copied := *in
	f.calls = append(f.calls, &copied)
	if f.err != nil {
		return nil, f.err
	}
	if len(in.AlarmNames) > maxAlarmNamesPerCall {
		return nil, errors.New("ValidationError: AlarmNames has more than 100 members")
	}
	type found struct {
		name  string
		state types.StateValue
		kind  types.AlarmType
	}
	var all []found
	for _, n := range in.AlarmNames {
		if s, ok := f.metric[n]; ok && (len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, types.AlarmTypeMetricAlarm)) {
			all = append(all, found{n, s, types.AlarmTypeMetricAlarm})
		}
		if s, ok := f.composite[n]; ok && slices.Contains(in.AlarmTypes, types.AlarmTypeCompositeAlarm) {
			all = append(all, found{n, s, types.AlarmTypeCompositeAlarm})
		}
		if s, ok := f.log[n]; ok && slices.Contains(in.AlarmTypes, types.AlarmTypeLogAlarm) {
			all = append(all, found{n, s, types.AlarmTypeLogAlarm})
		}
	}
	start := 0
	if in.NextToken != nil {
		for i := range all {
			if "page"+all[i].name == *in.NextToken {
				start = i
			}
		}
	}
	end := min(start+f.pageSize, len(all))
	out := &cw.DescribeAlarmsOutput{}
	for _, a := range all[start:end] {
		at := aws.Time(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		reason := aws.String("reason of " + a.name)
		switch a.kind {
		case types.AlarmTypeCompositeAlarm:
			out.CompositeAlarms = append(out.CompositeAlarms, types.CompositeAlarm{AlarmName: aws.String(a.name), StateValue: a.state, StateReason: reason, StateUpdatedTimestamp: at})
		case types.AlarmTypeLogAlarm:
			out.LogAlarms = append(out.LogAlarms, types.LogAlarm{AlarmName: aws.String(a.name), StateValue: a.state, StateReason: reason, StateUpdatedTimestamp: at})
		default:
			out.MetricAlarms = append(out.MetricAlarms, types.MetricAlarm{AlarmName: aws.String(a.name), StateValue: a.state, StateReason: reason, StateUpdatedTimestamp: at})
		}
	}
	if end < len(all) {
		out.NextToken = aws.String("page" + all[end].name)
	}
	return out, nil
}

func TestAlarmStatesReadsMetricCompositeAndLogAlarmsOverPages(t *testing.T) {
	f := &fakeAlarms{
		metric:    map[string]types.StateValue{"shop-5xx": types.StateValueAlarm, "shop-p99": types.StateValueOk, "shop-cpu": types.StateValueInsufficientData},
		composite: map[string]types.StateValue{"shop-health": types.StateValueAlarm},
		log:       map[string]types.StateValue{"shop-panics": types.StateValueAlarm},
		pageSize:  2,
	}
	got, err := AlarmSource{CloudWatch: f}.AlarmStates(context.Background(), []string{"shop-5xx", "shop-p99", "shop-health", "missing", "shop-cpu", "shop-panics"})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 3 {
		t.Errorf("%d DescribeAlarms calls, want 3 pages", len(f.calls))
	}
	want := map[string]analysis.AlarmState{
		"shop-5xx":    {Name: "shop-5xx", State: analysis.AlarmAlarm, Reason: "reason of shop-5xx"},
		"shop-p99":    {Name: "shop-p99", State: analysis.AlarmOK, Reason: "reason of shop-p99"},
		"shop-health": {Name: "shop-health", State: analysis.AlarmAlarm, Reason: "reason of shop-health", Composite: true},
		"shop-cpu":    {Name: "shop-cpu", State: analysis.AlarmInsufficientData, Reason: "reason of shop-cpu"},
		"shop-panics": {Name: "shop-panics", State: analysis.AlarmAlarm, Reason: "reason of shop-panics", Log: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d alarms %+v, want %d", len(got), got, len(want))
	}
	for _, a := range got {
		w := want[a.Name]
		if a.State != w.State || a.Reason != w.Reason || a.Composite != w.Composite || a.Log != w.Log || !a.Since.Equal(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("alarm %+v, want %+v", a, w)
		}
	}
	v := analysis.JudgeAlarms([]string{"shop-p99", "missing", "shop-health", "shop-panics"}, got)
	if v.Result != analysis.ResultFail || !slices.Equal(v.Alarms, []string{"shop-health", "shop-panics"}) || !slices.Equal(v.Missing, []string{"missing"}) ||
		!strings.Contains(v.Reason, `log alarm "shop-panics" is in ALARM since 2026-11-25T12:00:00Z: reason of shop-panics`) {
		t.Errorf("verdict %+v", v)
	}
}

// everyType is DescribeAlarms holding one alarm of each type, named after
// it, in the output list named after it (LogAlarm in LogAlarms): an alarm
// type the SDK adds is found only if AlarmSource both asks for it and
// reads its list.
type everyType struct{ t *testing.T }

func (f everyType) DescribeAlarms(_ context.Context, in *cw.DescribeAlarmsInput, _ ...func(*cw.Options)) (*cw.DescribeAlarmsOutput, error) {
	out := &cw.DescribeAlarmsOutput{}
	fields := reflect.ValueOf(out).Elem()
	asked := in.AlarmTypes
	if len(asked) == 0 {
		asked = []types.AlarmType{types.AlarmTypeMetricAlarm} // what CloudWatch returns without AlarmTypes
	}
	for _, kind := range asked {
		list := fields.FieldByName(string(kind) + "s")
		if !list.IsValid() {
			f.t.Errorf("DescribeAlarmsOutput has no list %ss for alarm type %s", kind, kind)
			continue
		}
		alarm := reflect.New(list.Type().Elem()).Elem()
		alarm.FieldByName("AlarmName").Set(reflect.ValueOf(aws.String(string(kind))))
		alarm.FieldByName("StateValue").Set(reflect.ValueOf(types.StateValueAlarm))
		list.Set(reflect.Append(list, alarm))
	}
	return out, nil
}

func TestAlarmStatesAsksForEveryAlarmType(t *testing.T) {
	var names []string
	for _, kind := range types.AlarmType("").Values() {
		names = append(names, string(kind))
	}
	got, err := AlarmSource{CloudWatch: everyType{t}}.AlarmStates(context.Background(), names)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]analysis.AlarmState{}
	for _, a := range got {
		found[a.Name] = a
	}
	for _, name := range names {
		if a, ok := found[name]; !ok || a.State != analysis.AlarmAlarm {
			t.Errorf("an alarm of type %s was not read (%+v): a deploy.json naming one would be refused as missing", name, a)
		}
	}
	if !found[string(types.AlarmTypeCompositeAlarm)].Composite || !found[string(types.AlarmTypeLogAlarm)].Log {
		t.Errorf("alarm kinds not told apart: %+v", got)
	}
}

func TestAlarmStatesBatchesNames(t *testing.T) {
	f := &fakeAlarms{metric: map[string]types.StateValue{}, pageSize: 1000}
	var names []string
	for i := range 150 {
		n := fmt.Sprintf("alarm-%03d", i)
		names = append(names, n)
		f.metric[n] = types.StateValueOk
	}
	got, err := AlarmSource{CloudWatch: f}.AlarmStates(context.Background(), names)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 2 || len(f.calls[0].AlarmNames) != 100 || len(f.calls[1].AlarmNames) != 50 || len(got) != 150 {
		t.Errorf("%d calls for 150 names, %d alarms back", len(f.calls), len(got))
	}
}

func TestAlarmStatesErrorNamesTheAlarms(t *testing.T) {
	f := &fakeAlarms{err: errors.New("AccessDenied: not authorized to perform cloudwatch:DescribeAlarms")}
	_, err := AlarmSource{CloudWatch: f}.AlarmStates(context.Background(), []string{"shop-5xx"})
	if err == nil || !strings.Contains(err.Error(), "describe CloudWatch alarms [shop-5xx]") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("error %v", err)
	}
}
