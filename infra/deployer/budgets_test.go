package deployer_test

import (
	"strconv"
	"testing"
	"time"

	pt "github.com/eks-canary/platform/internal/pulumitest"
	"github.com/eks-canary/platform/lambdas/contract"
)

// The functions get the budgets the engine judges plans by, and the
// state machine's timeout reaches the engine.
func TestEngineGetsTheExecutionsBudgets(t *testing.T) {
	a := args(contract.RouterAppMesh)
	a.RolloutTimeoutSeconds = 10800
	res := run(t, a)
	secs := func(d time.Duration) int { return int(d / time.Second) }
	env := "environment.variables." + contract.EnvRolloutTimeout
	pt.Check(t, res, []pt.Row{
		pt.R(pt.TypeLambda, "deployer-step", "timeout", secs(contract.StepLambdaTimeout), "one step, below the state machine's Task timeout"),
		pt.R(pt.TypeLambda, "deployer-rollback-aborted", "timeout", secs(contract.RollbackLambdaTimeout), "a roll back with its own retries"),
		pt.R(pt.TypeLambda, "deployer-step", env, strconv.Itoa(a.RolloutTimeoutSeconds), "Validate judges plans by rolloutTimeoutSeconds"),
		pt.R(pt.TypeLambda, "deployer-rollback-aborted", env, strconv.Itoa(a.RolloutTimeoutSeconds), "both entry points share one environment"),
		pt.R(pt.TypeStateMachine, "deployer-state-machine", "definition", pt.Contains(`"TimeoutSeconds": 10800`), "the execution's timeout"),
	})
}
