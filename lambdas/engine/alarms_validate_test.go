package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/analysis/cloudwatch"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

type failingAlarms struct{}

func (failingAlarms) AlarmStates(context.Context, []string) ([]analysis.AlarmState, error) {
	return nil, errors.New("ThrottlingException: Rate exceeded")
}

// Validate judges analysis.alarms without a cluster: a source that cannot
// be reached is retried, an engine without one refuses the field.
func TestValidateAlarmNames(t *testing.T) {
	d := goodDeploy("appmesh", testTemplate(t, "appmesh"))
	d["analysis"] = map[string]any{"alarms": []string{"shop-5xx"}}
	validate := func(e *engine.Engine) error {
		_, err := e.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "x", State: marshal(t, d)})
		return err
	}

	e := validator(t, template.Policy{})
	err := validate(e)
	if engine.ErrorName(err) != statemachine.ErrValidation || err == nil ||
		!strings.Contains(err.Error(), "analysis.alarms: 1 names cannot be checked: this engine has no CloudWatch alarm source") {
		t.Errorf("without an alarm source: %v", err)
	}

	e.Alarms = failingAlarms{}
	if err := validate(e); engine.ErrorName(err) != statemachine.ErrTransient || !strings.Contains(err.Error(), "check analysis.alarms of shop: ThrottlingException") {
		t.Errorf("with CloudWatch throttling: %s %v, want %s", engine.ErrorName(err), err, statemachine.ErrTransient)
	}

	cw := &cloudWatchAlarms{metric: map[string]types.MetricAlarm{}, composite: map[string]types.CompositeAlarm{}}
	cw.set("shop-5xx", types.StateValueAlarm, "firing", firedAt, false)
	e.Alarms = cloudwatch.AlarmSource{CloudWatch: cw}
	// An alarm already in ALARM is not invalid input: the first check rolls it back.
	if err := validate(e); err != nil {
		t.Errorf("an existing alarm: %v", err)
	}
}
