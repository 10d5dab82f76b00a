// Package checks holds the tests that hold the whole environment program,
// evaluated under the mocks for both traffic layers, to AWS's and
// Kubernetes' own rules: AWS's service models and documented limits,
// cfn-lint, asl-validator, the real API server with every CRD, and the
// vendored charts rendered by Helm's engine. They share one link of the
// program and one control plane.
package checks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks"
	"github.com/eks-canary/platform/stacks/config"
	"github.com/eks-canary/platform/stacks/offline"
)

var (
	plane testcluster.Shared

	fixtureRoot string
	runsMu      sync.Mutex
	runs        = map[string]*run{}
)

var layers = []string{contract.RouterGatewayAPI, contract.RouterAppMesh}

func TestMain(m *testing.M) {
	code := plane.Main(m)
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// run is one evaluation of the dev stack.
type run struct {
	res     *offline.Result
	cfg     config.Config
	project string
}

// fixture is a repository root with the sample sources' buildspecs and an
// engine zip, so the program runs without compiling the engine.
func fixture(t *testing.T) (root, archive string) {
	t.Helper()
	if fixtureRoot == "" {
		root, _, err := pt.RepoFixture(config.DefaultMicroservices)
		if err != nil {
			os.RemoveAll(root)
			t.Fatal(err)
		}
		fixtureRoot = root
	}
	return fixtureRoot, filepath.Join(fixtureRoot, "build", "lambda", "lambda.zip")
}

// devStack evaluates the committed dev configuration with the given traffic
// layer, once per test binary.
func devStack(t *testing.T, layer string) *run {
	t.Helper()
	return devStackWith(t, layer, nil)
}

// devStackWith is devStack with the stack keys of set changed as well.
func devStackWith(t *testing.T, layer string, set map[string]string) *run {
	t.Helper()
	runsMu.Lock()
	defer runsMu.Unlock()
	key := fmt.Sprint(layer, set)
	if r, ok := runs[key]; ok {
		return r
	}
	root, archive := fixture(t)
	project, cfg, _, err := config.ReadStackFile(filepath.Join("..", ".."), "dev")
	if err != nil {
		t.Fatal(err)
	}
	cfg[project+":"+config.KeyTrafficLayer] = layer
	for k, v := range set {
		cfg[project+":"+k] = v
	}
	r := &run{project: project}
	opts := stacks.Options{RepoRoot: root, PackageLambda: func(context.Context) (string, error) { return archive, nil }}
	r.res, err = offline.Run(project, "dev", cfg, func(ctx *pulumi.Context) error {
		c, err := config.Load(ctx.Stack(), config.FromContext(ctx))
		if err != nil {
			return err
		}
		r.cfg = c
		_, err = stacks.Deploy(ctx, c, opts)
		return err
	})
	if err != nil {
		t.Fatalf("dev stack with %s: %v", layer, err)
	}
	runs[key] = r
	return r
}

func eachLayer(t *testing.T, f func(t *testing.T, r *run)) {
	for _, layer := range layers {
		t.Run(layer, func(t *testing.T) { f(t, devStack(t, layer)) })
	}
}

func lines[T interface{ String() string }](items []T) string {
	var b strings.Builder
	for _, i := range items {
		b.WriteString("\n  " + i.String())
	}
	return b.String()
}
