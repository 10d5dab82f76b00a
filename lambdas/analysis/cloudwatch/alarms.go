package cloudwatch

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/eks-canary/platform/lambdas/analysis"
)

// maxAlarmNamesPerCall is DescribeAlarms' limit on AlarmNames.
const maxAlarmNamesPerCall = 100

// AlarmSource implements analysis.Alarms with DescribeAlarms. It asks for
// every alarm type the SDK knows (types.AlarmType.Values), and reads each
// type's list: without AlarmTypes, DescribeAlarms returns metric alarms
// only, and a named composite or log alarm would look missing.
type AlarmSource struct {
	CloudWatch cw.DescribeAlarmsAPIClient
}

var _ analysis.Alarms = AlarmSource{}

// NewAlarmSource builds the source on the AWS SDK client of cfg.
func NewAlarmSource(cfg aws.Config) AlarmSource {
	return AlarmSource{CloudWatch: cw.NewFromConfig(cfg)}
}

// AlarmStates reads the named alarms, every page of them, in batches of
// DescribeAlarms' limit.
func (s AlarmSource) AlarmStates(ctx context.Context, names []string) ([]analysis.AlarmState, error) {
	var out []analysis.AlarmState
	for start := 0; start < len(names); start += maxAlarmNamesPerCall {
		batch := names[start:min(start+maxAlarmNamesPerCall, len(names))]
		pages := cw.NewDescribeAlarmsPaginator(s.CloudWatch, &cw.DescribeAlarmsInput{
			AlarmNames: batch,
			AlarmTypes: types.AlarmType("").Values(),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe CloudWatch alarms %v: %w", batch, err)
			}
			for _, a := range page.MetricAlarms {
				out = append(out, analysis.AlarmState{Name: aws.ToString(a.AlarmName), State: string(a.StateValue),
					Reason: aws.ToString(a.StateReason), Since: aws.ToTime(a.StateUpdatedTimestamp)})
			}
			for _, a := range page.CompositeAlarms {
				out = append(out, analysis.AlarmState{Name: aws.ToString(a.AlarmName), State: string(a.StateValue),
					Reason: aws.ToString(a.StateReason), Since: aws.ToTime(a.StateUpdatedTimestamp), Composite: true})
			}
			for _, a := range page.LogAlarms {
				out = append(out, analysis.AlarmState{Name: aws.ToString(a.AlarmName), State: string(a.StateValue),
					Reason: aws.ToString(a.StateReason), Since: aws.ToTime(a.StateUpdatedTimestamp), Log: true})
			}
		}
	}
	return out, nil
}
