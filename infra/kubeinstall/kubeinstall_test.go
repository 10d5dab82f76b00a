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

// A chart with a local folder installs from it, by the last element of its
// reference; any other comes from its repository.
func TestChartDirsReplaceOnlyTheChartsTheyName(t *testing.T) {
	dirs := kubeinstall.ChartDirs{"appmesh-controller": "/charts/appmesh-controller-1.13.3", "gateway-chart": "/charts/gateway-chart-v2"}
	cases := []struct {
		name, chart, repo   string
		dirs                kubeinstall.ChartDirs
		wantChart, wantRepo string
		wantRepoSet         bool
	}{
		{"repository chart with a folder", "appmesh-controller", "https://aws.github.io/eks-charts", dirs, "/charts/appmesh-controller-1.13.3", "", false},
		{"OCI chart with a folder", "oci://public.ecr.aws/x/gateway-chart", "", dirs, "/charts/gateway-chart-v2", "", false},
		{"repository chart without one", "external-dns", "https://kubernetes-sigs.github.io/external-dns/", dirs, "external-dns", "https://kubernetes-sigs.github.io/external-dns/", true},
		{"OCI chart without one", "oci://public.ecr.aws/x/other", "", dirs, "oci://public.ecr.aws/x/other", "", false},
		{"no folders at all", "appmesh-controller", "https://aws.github.io/eks-charts", nil, "appmesh-controller", "https://aws.github.io/eks-charts", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			chart, repo := c.dirs.Source(c.chart, c.repo)
			if got := string(chart.(pulumi.String)); got != c.wantChart {
				t.Errorf("chart = %q, want %q", got, c.wantChart)
			}
			if (repo != nil) != c.wantRepoSet {
				t.Fatalf("repository set = %v, want %v", repo != nil, c.wantRepoSet)
			}
			if repo != nil {
				if got := string(repo.(pulumi.String)); got != c.wantRepo {
					t.Errorf("repository = %q, want %q", got, c.wantRepo)
				}
			}
		})
	}
}
