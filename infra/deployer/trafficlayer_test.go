package deployer_test

import (
	"testing"

	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
)

// TestEngineIsToldItsTrafficLayer: both entry points give a deploy.json
// without router the stack's trafficLayer.
func TestEngineIsToldItsTrafficLayer(t *testing.T) {
	for _, layer := range contract.Routers() {
		t.Run(layer, func(t *testing.T) {
			res := run(t, args(layer))
			var rows []pt.Row
			for _, fn := range []string{"deployer-step", "deployer-rollback-aborted"} {
				rows = append(rows, pt.R(pt.TypeLambda, fn, "environment.variables."+contract.EnvTrafficLayer, layer, "the router of a deploy.json without one"))
			}
			pt.Check(t, res, rows)
		})
	}
}
