// Package notify tells people that a rollout ended, through Amazon SNS (the
// environment subscribes e-mail or chat to the topic) or a log line.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/status"
)

// Publisher is the part of the SNS client the notifier needs.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes one message per finished rollout.
type SNS struct {
	Client   Publisher
	TopicArn string
}

// Notify sends the outcome with attributes subscribers can filter on.
func (s SNS) Notify(ctx context.Context, n engine.Notice) error {
	subject, body := Message(n)
	_, err := s.Client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.TopicArn),
		Subject:  aws.String(subject),
		Message:  aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"microservice": {DataType: aws.String("String"), StringValue: aws.String(n.Microservice)},
			"outcome":      {DataType: aws.String("String"), StringValue: aws.String(n.Outcome)},
		},
	})
	if err != nil {
		return fmt.Errorf("notify %s %s on %s: %w", n.Microservice, n.Outcome, s.TopicArn, err)
	}
	return nil
}

// Log writes the notice as a log line, for the local runner.
type Log struct{ Logger *slog.Logger }

// Notify logs the outcome.
func (l Log) Notify(_ context.Context, n engine.Notice) error {
	subject, _ := Message(n)
	l.Logger.Info(subject, "microservice", n.Microservice, "version", n.Version, "outcome", n.Outcome, "reason", n.Reason)
	return nil
}

// Message is the subject (at most 100 characters, as SNS allows) and body.
func Message(n engine.Notice) (subject, body string) {
	switch n.Outcome {
	case status.PhaseSucceeded:
		subject = fmt.Sprintf("%s version %d promoted", n.Microservice, n.Version)
	case status.PhaseRolledBack:
		subject = fmt.Sprintf("%s version %d rolled back", n.Microservice, n.Version)
	case status.PhaseFailed:
		subject = fmt.Sprintf("ACTION NEEDED: %s version %d roll back failed", n.Microservice, n.Version)
	case status.PhaseInvalid:
		subject = fmt.Sprintf("%s version %d refused by the API server", n.Microservice, n.Version)
	default:
		subject = fmt.Sprintf("%s version %d: %s", n.Microservice, n.Version, n.Outcome)
	}
	if n.HookFailure {
		subject = fmt.Sprintf("%s version %d: a notify-only hook failed (%s stands)", n.Microservice, n.Version, n.Outcome)
	}
	if len(subject) > 100 {
		subject = subject[:100]
	}
	stable := "none (first deployment)"
	if n.StableVersion > 0 {
		stable = fmt.Sprintf("%d", n.StableVersion)
	}
	body = fmt.Sprintf("Microservice: %s\nNamespace: %s\nOutcome: %s\nCanary version: %d\nStable version before: %s\nReason: %s\nExecution: %s\n",
		n.Microservice, n.Namespace, n.Outcome, n.Version, stable, n.Reason, n.Execution)
	if len(n.Hooks) > 0 {
		body += "Hooks (newest first):\n"
		for _, h := range n.Hooks {
			result := "passed"
			if !h.Passed {
				result = "FAILED"
			}
			body += fmt.Sprintf("  %s %s hook %s (%s) %s: %s\n", h.At.UTC().Format(time.RFC3339), h.Point, h.Hook, h.Kind, result, h.Output)
		}
	}
	return subject, body
}
