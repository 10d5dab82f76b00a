package sample_test

import (
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/sample"
	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/stacks/offline"
)

func run(t *testing.T, password pulumi.StringInput) *offline.Result {
	t.Helper()
	return pt.MustRun(t, func(ctx *pulumi.Context) error {
		ns, err := corev1.NewNamespace(ctx, "app", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("yelb")}})
		if err != nil {
			return err
		}
		_, err = sample.NewSample(ctx, "sample", &sample.SampleArgs{Namespace: ns, DBPassword: password})
		return err
	})
}

func TestSampleDatabaseSecret(t *testing.T) {
	res := run(t, pulumi.String("a-password-of-mine"))
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeSecret, "sample-db-credentials", "metadata.name", sample.DBCredentialsSecret, "the name the yelb-db and yelb-appserver templates read"),
		pt.R(pt.TypeSecret, "sample-db-credentials", "metadata.namespace", "yelb", "in the application namespace"),
		pt.R(pt.TypeSecret, "sample-db-credentials", "type", "Opaque", "a plain Secret"),
		pt.R(pt.TypeSecret, "sample-db-credentials", "stringData.username", "postgres", "the database user"),
		pt.R(pt.TypeSecret, "sample-db-credentials", "stringData.database", "yelbdatabase", "the database the init script creates"),
		pt.R(pt.TypeSecret, "sample-db-credentials", "stringData.password", "a-password-of-mine", "dbPassword when set"),
	})
	secret := pt.Find(t, res, pt.TypeSecret, "sample-db-credentials")
	if ns := pt.Find(t, res, pt.TypeNamespace, "app"); !pt.DependsOn(res, secret.URN, ns.URN) {
		t.Errorf("%s %q does not depend on the namespace: it could be created before it", secret.Type, secret.Name)
	}
	if secret.Parent != pt.Find(t, res, "canary:infra:Sample", "sample").URN {
		t.Errorf("%s %q is not a child of the Sample component (parent %s)", secret.Type, secret.Name, secret.Parent)
	}
}

func TestSampleGeneratesAPassword(t *testing.T) {
	got := pt.Str(pt.Find(t, run(t, nil), pt.TypeSecret, "sample-db-credentials").Inputs, "stringData.password")
	if len(got) < 24 || strings.ContainsAny(got, `'"\ `) {
		t.Errorf("generated password %q: want at least 24 characters without quotes, backslashes or spaces", got)
	}
}

func TestSampleNeedsANamespace(t *testing.T) {
	_, err := pt.Run(func(ctx *pulumi.Context) error {
		_, err := sample.NewSample(ctx, "sample", &sample.SampleArgs{})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "Namespace is required") {
		t.Errorf("error %v, want one naming Namespace", err)
	}
}
