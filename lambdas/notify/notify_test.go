package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/eks-canary/platform/lambdas/engine"
)

type fakeSNS struct {
	got *sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.got = in
	return &sns.PublishOutput{}, f.err
}

func TestSNSPublishesOutcomeWithReason(t *testing.T) {
	f := &fakeSNS{}
	n := engine.Notice{Microservice: "yelb-appserver", Namespace: "yelb", Version: 4, StableVersion: 3,
		Outcome: "RolledBack", Reason: "analysis failed 1 time(s) in a row at 20%", Execution: "arn:exec"}
	if err := (SNS{Client: f, TopicArn: "arn:topic"}).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if *f.got.TopicArn != "arn:topic" || *f.got.Subject != "yelb-appserver version 4 rolled back" {
		t.Errorf("topic %q subject %q", *f.got.TopicArn, *f.got.Subject)
	}
	for _, want := range []string{"Reason: analysis failed 1 time(s) in a row at 20%", "Stable version before: 3", "Execution: arn:exec"} {
		if !strings.Contains(*f.got.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, *f.got.Message)
		}
	}
	if got := *f.got.MessageAttributes["outcome"].StringValue; got != "RolledBack" {
		t.Errorf("outcome attribute %q", got)
	}
}

func TestSNSErrorNamesTopic(t *testing.T) {
	f := &fakeSNS{err: errors.New("AuthorizationError")}
	err := (SNS{Client: f, TopicArn: "arn:topic"}).Notify(context.Background(), engine.Notice{Microservice: "m", Outcome: "Succeeded"})
	if err == nil || !strings.Contains(err.Error(), "arn:topic") || !strings.Contains(err.Error(), "AuthorizationError") {
		t.Fatalf("error %v", err)
	}
}

func TestSubjectFitsSNSLimit(t *testing.T) {
	subject, body := Message(engine.Notice{Microservice: strings.Repeat("x", 120), Version: 1, Outcome: "Succeeded"})
	if len(subject) > 100 {
		t.Errorf("subject is %d characters", len(subject))
	}
	if !strings.Contains(body, "first deployment") {
		t.Errorf("body does not say there was no stable version:\n%s", body)
	}
}

func TestAFailedRollBackAsksForAction(t *testing.T) {
	reason := "roll back failed: forbidden; fix the cause, then run `canaryctl -n yelb recover yelb-ui`"
	subject, body := Message(engine.Notice{Microservice: "yelb-ui", Namespace: "yelb", Version: 5, StableVersion: 4, Outcome: "Failed", Reason: reason})
	if subject != "ACTION NEEDED: yelb-ui version 5 roll back failed" || !strings.Contains(body, "canaryctl -n yelb recover yelb-ui") {
		t.Errorf("subject %q body:\n%s", subject, body)
	}
	if subject, _ := Message(engine.Notice{Microservice: "yelb-ui", Version: 5, Outcome: "Invalid"}); subject != "yelb-ui version 5 refused by the API server" {
		t.Errorf("subject %q", subject)
	}
}
