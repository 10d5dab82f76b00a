// Package kubeinstall declares the two things the program installs into a
// cluster as a whole: Helm releases and bundles of YAML documents, the
// Kubernetes provider's kubernetes:helm.sh/v3:Release and
// kubernetes:yaml/v2:ConfigGroup.
//
// They are registered by type token with the inputs the program sets, as
// the SDK's own constructors do, rather than through the SDK's helm/v3 and
// yaml/v2 packages: those two import every API group the SDK generates (65
// packages, about 20 MB of Go the program never uses), which is a large
// share of a first build on a fresh machine. The provider and its version
// are the SDK's (utilities.PkgResourceDefaultOpts), so the resources are
// the ones the SDK would register.
package kubeinstall

import (
	"errors"
	"path"
	"reflect"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens of the provider's resources.
const (
	ReleaseType     = "kubernetes:helm.sh/v3:Release"
	ConfigGroupType = "kubernetes:yaml/v2:ConfigGroup"
)

// Release is a Helm release the provider installs and upgrades.
type Release struct {
	pulumi.CustomResourceState

	Name      pulumi.StringOutput `pulumi:"name"`
	Namespace pulumi.StringOutput `pulumi:"namespace"`
}

// ReleaseArgs are the release's inputs the program uses; the provider's
// schema has the rest.
type ReleaseArgs struct {
	Name      pulumi.StringInput
	Chart     pulumi.StringInput // required
	Version   pulumi.StringInput
	Namespace pulumi.StringPtrInput
	// Repo is the chart repository's URL; empty for an OCI or local chart.
	Repo          pulumi.StringInput
	Values        pulumi.MapInput
	SkipCrds      pulumi.BoolPtrInput
	Timeout       pulumi.IntPtrInput // seconds
	MaxHistory    pulumi.IntPtrInput
	CleanupOnFail pulumi.BoolPtrInput
}

// ChartDirs maps a chart's name (the last element of its reference) to a
// folder holding that chart unpacked, installed instead of the chart from
// its repository: for a cluster that cannot reach the repositories, such as
// the local control plane the engine test deploys to.
type ChartDirs map[string]string

// Source is where a release installs chart from: the folder dirs has for
// it, else chart itself from repo (empty for an OCI reference).
func (dirs ChartDirs) Source(chart, repo string) (chartRef pulumi.StringInput, repoURL pulumi.StringInput) {
	if dir, ok := dirs[path.Base(chart)]; ok {
		return pulumi.String(dir), nil
	}
	if repo == "" {
		return pulumi.String(chart), nil
	}
	return pulumi.String(chart), pulumi.String(repo)
}

// Present drops the nil resources from a dependency list: optional
// dependencies left unset, such as what a cluster without AWS does not have.
func Present(rs ...pulumi.Resource) []pulumi.Resource {
	var out []pulumi.Resource
	for _, r := range rs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// NewRelease registers a Helm release.
func NewRelease(ctx *pulumi.Context, name string, args *ReleaseArgs, opts ...pulumi.ResourceOption) (*Release, error) {
	if args == nil || args.Chart == nil {
		return nil, errors.New("release " + name + ": Chart is required")
	}
	in := releaseInputs{
		Name: args.Name, Chart: args.Chart, Version: args.Version, Namespace: args.Namespace, Values: args.Values,
		SkipCrds: args.SkipCrds, Timeout: args.Timeout, MaxHistory: args.MaxHistory, CleanupOnFail: args.CleanupOnFail,
		// As the SDK's NewRelease sets it.
		Compat: pulumi.StringPtr("true"),
	}
	if args.Repo != nil {
		in.RepositoryOpts = pulumi.StringMap{"repo": args.Repo}
	}
	var res Release
	if err := ctx.RegisterResource(ReleaseType, name, in, &res, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return &res, nil
}

type releaseInputs struct {
	Name           pulumi.StringInput
	Chart          pulumi.StringInput
	Version        pulumi.StringInput
	Namespace      pulumi.StringPtrInput
	RepositoryOpts pulumi.StringMapInput
	Values         pulumi.MapInput
	SkipCrds       pulumi.BoolPtrInput
	Timeout        pulumi.IntPtrInput
	MaxHistory     pulumi.IntPtrInput
	CleanupOnFail  pulumi.BoolPtrInput
	Compat         pulumi.StringPtrInput
}

// releaseProps names the inputs as the provider's schema does.
type releaseProps struct {
	Name           *string                `pulumi:"name"`
	Chart          string                 `pulumi:"chart"`
	Version        *string                `pulumi:"version"`
	Namespace      *string                `pulumi:"namespace"`
	RepositoryOpts map[string]string      `pulumi:"repositoryOpts"`
	Values         map[string]interface{} `pulumi:"values"`
	SkipCrds       *bool                  `pulumi:"skipCrds"`
	Timeout        *int                   `pulumi:"timeout"`
	MaxHistory     *int                   `pulumi:"maxHistory"`
	CleanupOnFail  *bool                  `pulumi:"cleanupOnFail"`
	Compat         *string                `pulumi:"compat"`
}

func (releaseInputs) ElementType() reflect.Type { return reflect.TypeOf((*releaseProps)(nil)).Elem() }

// ConfigGroup is a set of Kubernetes objects from YAML, each a resource of
// its own, children of the group.
type ConfigGroup struct {
	pulumi.ResourceState
}

// NewConfigGroup registers the objects of the YAML documents in yaml.
func NewConfigGroup(ctx *pulumi.Context, name, yaml string, opts ...pulumi.ResourceOption) (*ConfigGroup, error) {
	var res ConfigGroup
	in := configGroupInputs{Yaml: pulumi.String(yaml)}
	if err := ctx.RegisterRemoteComponentResource(ConfigGroupType, name, in, &res, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return &res, nil
}

type configGroupInputs struct {
	Yaml pulumi.StringPtrInput
}

type configGroupProps struct {
	Yaml *string `pulumi:"yaml"`
}

func (configGroupInputs) ElementType() reflect.Type {
	return reflect.TypeOf((*configGroupProps)(nil)).Elem()
}
