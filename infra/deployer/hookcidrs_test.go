package deployer_test

import (
	"testing"

	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
)

// TestWebhookNetworksReachTheEngine: hookAllowedCIDRs becomes the engine's
// allow-list on both entry points, and without it no private network is
// allowed.
func TestWebhookNetworksReachTheEngine(t *testing.T) {
	env := "environment.variables." + contract.EnvHookAllowedCIDRs
	a := args(contract.RouterGatewayAPI)
	a.HookAllowedCIDRs = []string{"10.20.0.0/16", "fd12:3456::/32"}
	with := run(t, a)
	without := run(t, args(contract.RouterGatewayAPI))
	for _, fn := range []string{"deployer-step", "deployer-rollback-aborted"} {
		pt.Check(t, with, []pt.Row{pt.R(pt.TypeLambda, fn, env, "10.20.0.0/16,fd12:3456::/32", "the webhook allow-list, comma-separated")})
		pt.Check(t, without, []pt.Row{pt.R(pt.TypeLambda, fn, env, pt.Absent, "no private network without hookAllowedCIDRs")})
	}
}
