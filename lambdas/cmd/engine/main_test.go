package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
)

func TestStepErrorsCarryTheNamesRetryAndCatchMatch(t *testing.T) {
	h := stepHandler(&engine.Engine{})
	_, err := h(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "x", State: json.RawMessage(`{"percentage_step": 0}`)})
	var lambdaErr messages.InvokeResponse_Error
	if !errors.As(err, &lambdaErr) {
		t.Fatalf("error %T %v is not a Lambda error response", err, err)
	}
	if lambdaErr.Type != statemachine.ErrValidation {
		t.Errorf("error type %q, want %q", lambdaErr.Type, statemachine.ErrValidation)
	}
	if lambdaErr.Message == "" {
		t.Error("empty error message")
	}
}

type describer struct{ asked string }

func (d *describer) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	d.asked = aws.ToString(in.ExecutionArn)
	return &sfn.DescribeExecutionOutput{Input: aws.String(`{"microservice_name": ""}`)}, nil
}

func TestRollbackReadsTheInputWhenTheEventOmitsIt(t *testing.T) {
	d := &describer{}
	h := rollbackHandler(&engine.Engine{}, d)
	detail := json.RawMessage(`{"executionArn":"arn:aws:states:us-west-2:1:execution:canary:run-1","status":"ABORTED","input":null}`)
	// The input names no valid rollout, so nothing was deployed and there is
	// nothing to roll back: the handler succeeds without touching a cluster.
	if err := h(context.Background(), events.CloudWatchEvent{DetailType: "Step Functions Execution Status Change", Detail: detail}); err != nil {
		t.Fatal(err)
	}
	if d.asked != "arn:aws:states:us-west-2:1:execution:canary:run-1" {
		t.Errorf("DescribeExecution asked for %q", d.asked)
	}
}

func TestRollbackRejectsAMalformedEvent(t *testing.T) {
	h := rollbackHandler(&engine.Engine{}, &describer{})
	if err := h(context.Background(), events.CloudWatchEvent{Detail: json.RawMessage(`[]`)}); err == nil {
		t.Fatal("malformed detail accepted")
	}
}
