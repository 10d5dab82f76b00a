package kubeinstall_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-canary/platform/infra/kubeinstall"
	"github.com/eks-canary/platform/internal/pulumitest"
)

// The inputs reach the provider under its schema's names, as the SDK's
// helm/v3 and yaml/v2 constructors send them.
func TestInputsCarryTheProviderSchemaNames(t *testing.T) {
	res := pulumitest.MustRun(t, func(ctx *pulumi.Context) error {
		if _, err := kubeinstall.NewRelease(ctx, "controller", &kubeinstall.ReleaseArgs{
			Name: pulumi.String("ctl"), Chart: pulumi.String("appmesh-controller"), Version: pulumi.String("1.13.1"),
			Namespace: pulumi.StringPtr("appmesh-system"), Repo: pulumi.String("https://aws.github.io/eks-charts"),
			Values:   pulumi.Map{"region": pulumi.String("us-west-2")},
			SkipCrds: pulumi.Bool(true), Timeout: pulumi.Int(600), MaxHistory: pulumi.Int(5), CleanupOnFail: pulumi.Bool(true),
		}); err != nil {
			return err
		}
		if _, err := kubeinstall.NewRelease(ctx, "local-chart", &kubeinstall.ReleaseArgs{Chart: pulumi.String("oci://example/chart")}); err != nil {
			return err
		}
		_, err := kubeinstall.NewConfigGroup(ctx, "crds", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
		return err
	})
	pulumitest.Check(t, res, []pulumitest.Row{
		pulumitest.R(kubeinstall.ReleaseType, "controller", "name", "ctl", "the release name"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "chart", "appmesh-controller", "the chart"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "version", "1.13.1", "the pinned chart version"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "namespace", "appmesh-system", "where it installs"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "repositoryOpts.repo", "https://aws.github.io/eks-charts", "the chart repository"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "values.region", "us-west-2", "the values"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "skipCrds", true, "CRDs applied apart"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "timeout", 600, "seconds to wait"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "maxHistory", 5, "release history kept"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "cleanupOnFail", true, "a failed upgrade cleans up"),
		pulumitest.R(kubeinstall.ReleaseType, "controller", "compat", "true", "as the SDK's NewRelease sets it"),
		pulumitest.R(kubeinstall.ConfigGroupType, "crds", "yaml", pulumitest.Contains("kind: Namespace"), "the documents"),
	})
	local, ok := res.Find(kubeinstall.ReleaseType, "local-chart")
	if !ok {
		t.Fatal("the release without a repository was not registered")
	}
	if _, set := local.Inputs["repositoryOpts"]; set {
		t.Errorf("a release without Repo sends repositoryOpts %v", local.Inputs["repositoryOpts"])
	}
	if g, _ := res.Find(kubeinstall.ConfigGroupType, "crds"); g.Custom {
		t.Error("the ConfigGroup is registered as a custom resource, want the provider's component")
	}
}

func TestReleaseWithoutAChartIsRefused(t *testing.T) {
	_, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := kubeinstall.NewRelease(ctx, "nothing", &kubeinstall.ReleaseArgs{Name: pulumi.String("x")})
		return err
	})
	if err == nil {
		t.Fatal("a release without a chart was registered")
	}
}
