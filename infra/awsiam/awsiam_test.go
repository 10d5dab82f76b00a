package awsiam_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/eks-canary/platform/infra/awsiam"
)

func await(t *testing.T, o pulumi.StringOutput) (string, error) {
	t.Helper()
	r, err := internals.UnsafeAwaitOutput(context.Background(), o)
	s, _ := r.Value.(string)
	return s, err
}

type statement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Principal map[string]any
	Condition map[string]map[string]any
}

func decode(t *testing.T, doc string) []statement {
	t.Helper()
	var d struct {
		Version   string
		Statement []statement
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy document %s: %v", doc, err)
	}
	if d.Version != "2012-10-17" {
		t.Errorf("Version = %q, want 2012-10-17", d.Version)
	}
	return d.Statement
}

func TestDocumentResolvesOutputsInOrder(t *testing.T) {
	doc, err := await(t, awsiam.Document(
		awsiam.Statement{Sid: "A", Actions: []string{"s3:GetObject"}, Resources: []pulumi.StringInput{pulumi.String("arn:1"), pulumi.String("arn:2").ToStringOutput()}},
		awsiam.Statement{Sid: "B", Actions: []string{"sns:Publish"}, Resources: []pulumi.StringInput{awsiam.Any},
			Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "true"}}},
	))
	if err != nil {
		t.Fatal(err)
	}
	st := decode(t, doc)
	if len(st) != 2 {
		t.Fatalf("%d statements, want 2: %s", len(st), doc)
	}
	for i, want := range []struct {
		sid, resource string
		n             int
	}{{"A", "arn:2", 2}, {"B", "*", 1}} {
		s := st[i]
		if s.Sid != want.sid || s.Effect != "Allow" || len(s.Resource) != want.n || s.Resource[want.n-1] != want.resource {
			t.Errorf("statement %d = %+v, want Sid %s, Allow, %d resources ending in %s", i, s, want.sid, want.n, want.resource)
		}
	}
	if st[1].Condition["Bool"]["aws:SecureTransport"] != "true" {
		t.Errorf("statement B lost its condition: %+v", st[1])
	}
}

func TestDocumentRefusesAnEmptyStatement(t *testing.T) {
	_, err := await(t, awsiam.Document(awsiam.Statement{Sid: "Empty", Actions: []string{"s3:GetObject"}}))
	if err == nil || !strings.Contains(err.Error(), `"Empty"`) {
		t.Errorf("error %v, want one naming the statement", err)
	}
}

func TestTrustDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, doc, principal string
		actions              []string
	}{
		{"ec2", awsiam.EC2InstanceTrust(), `{"Service":"ec2.amazonaws.com"}`, []string{"sts:AssumeRole"}},
		{"pod identity", awsiam.PodIdentityTrust(), `{"Service":"pods.eks.amazonaws.com"}`, []string{"sts:AssumeRole", "sts:TagSession"}},
	} {
		st := decode(t, tc.doc)
		p, _ := json.Marshal(st[0].Principal)
		if len(st) != 1 || string(p) != tc.principal || strings.Join(st[0].Action, ",") != strings.Join(tc.actions, ",") {
			t.Errorf("%s trust %s: want principal %s and actions %v", tc.name, tc.doc, tc.principal, tc.actions)
		}
	}

	if st := decode(t, awsiam.EC2InstanceTrust()); st[0].Condition != nil {
		t.Errorf("EC2 instance trust has conditions %v: EC2 sends no source keys for instance profiles", st[0].Condition)
	}

	doc, err := await(t, awsiam.IRSATrust(pulumi.String("arn:aws:iam::1:oidc-provider/oidc.example/id/X"), pulumi.String("oidc.example/id/X"), "appmesh-system", "appmesh-controller"))
	if err != nil {
		t.Fatal(err)
	}
	st := decode(t, doc)
	cond := st[0].Condition["StringEquals"]
	if st[0].Principal["Federated"] != "arn:aws:iam::1:oidc-provider/oidc.example/id/X" ||
		cond["oidc.example/id/X:sub"] != "system:serviceaccount:appmesh-system:appmesh-controller" || cond["oidc.example/id/X:aud"] != "sts.amazonaws.com" {
		t.Errorf("IRSA trust %s: want the provider as principal, the service account as sub and STS as aud", doc)
	}
	if _, err := await(t, awsiam.IRSATrust(pulumi.String(""), pulumi.String("oidc.example/id/X"), "ns", "sa")); err == nil || !strings.Contains(err.Error(), "ns/sa") {
		t.Errorf("an unknown OIDC provider gave %v, want an error naming the service account", err)
	}
}

func env() awsiam.Environment {
	return awsiam.Environment{
		Partition: pulumi.String("aws-cn").ToStringOutput(),
		Region:    pulumi.String("cn-north-1").ToStringOutput(),
		Account:   pulumi.String("111122223333").ToStringOutput(),
	}
}

func TestServiceTrustConditionsOnTheSource(t *testing.T) {
	const machine = "arn:aws-cn:states:cn-north-1:111122223333:stateMachine:canary-rollout"
	for _, tc := range []struct {
		name    string
		source  awsiam.Source
		arnLike any // nil: no ArnLike condition
	}{
		{"account only", env().AccountSource(), nil},
		{"named resource", env().ResourceSource("states", "stateMachine:canary-rollout"), machine},
		{"resource output", awsiam.Source{Account: pulumi.String("111122223333"), Arn: pulumi.String(machine).ToStringOutput()}, machine},
	} {
		doc, err := await(t, awsiam.ServiceTrust("states.amazonaws.com", tc.source))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		st := decode(t, doc)
		if len(st) != 1 || st[0].Effect != "Allow" || st[0].Principal["Service"] != "states.amazonaws.com" ||
			strings.Join(st[0].Action, ",") != "sts:AssumeRole" {
			t.Errorf("%s: trust %s, want Step Functions allowed sts:AssumeRole", tc.name, doc)
			continue
		}
		c := st[0].Condition
		if c["StringEquals"]["aws:SourceAccount"] != "111122223333" || len(c["StringEquals"]) != 1 {
			t.Errorf("%s: trust %s, want StringEquals aws:SourceAccount 111122223333 only", tc.name, doc)
		}
		if got := c["ArnLike"]["aws:SourceArn"]; got != tc.arnLike {
			t.Errorf("%s: trust %s, ArnLike aws:SourceArn = %v, want %v", tc.name, doc, got, tc.arnLike)
		}
		operators := 1
		if tc.arnLike != nil {
			operators = 2
		}
		if len(c) != operators {
			t.Errorf("%s: trust %s has conditions beyond the source's", tc.name, doc)
		}
	}
}

func TestServiceTrustRefusesAnUnknownSource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		source awsiam.Source
		want   string
	}{
		{"no account", awsiam.Source{}, "source account is unknown"},
		{"empty account", awsiam.Source{Account: pulumi.String("")}, "source account is unknown"},
		{"not an ARN", awsiam.Source{Account: pulumi.String("111122223333"), Arn: pulumi.String("canary-rollout")}, `"canary-rollout" is not an ARN`},
		{"unknown region", awsiam.Environment{Partition: env().Partition, Region: pulumi.String("").ToStringOutput(), Account: env().Account}.ResourceSource("states", "stateMachine:x"), "region"},
	} {
		_, err := await(t, awsiam.ServiceTrust("states.amazonaws.com", tc.source))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestEnvironmentArn(t *testing.T) {
	got, err := await(t, env().Arn("codebuild", "project/canary-dev-shop-build"))
	if want := "arn:aws-cn:codebuild:cn-north-1:111122223333:project/canary-dev-shop-build"; err != nil || got != want {
		t.Errorf("Arn = %q, %v; want %q", got, err, want)
	}
}
