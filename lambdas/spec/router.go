package spec

import (
	"fmt"
	"slices"

	"github.com/eks-canary/platform/lambdas/contract"
)

// OriginalRouter is the router of a deploy.json without "router" read
// outside any environment: App Mesh, the original pipeline's.
const OriginalRouter = contract.RouterAppMesh

// DefaultRouter is the router a deploy.json without one gets: the
// environment's traffic layer once SetDefaultRouter has run, OriginalRouter
// before. It is one value for the process, not an argument, because every
// path that reads deploy.json must agree on it: Validate, the roll back of
// an aborted execution (which reads the execution's input as the pipeline
// wrote it) and specs rebuilt from state. One engine serves one stack, so
// one traffic layer. Set it only through SetDefaultRouter, at start-up.
var DefaultRouter = OriginalRouter

// SetDefaultRouter makes router, the environment's traffic layer, the
// router of every deploy.json that names none. Call it before any
// deploy.json is read.
func SetDefaultRouter(router string) error {
	if !slices.Contains(contract.Routers(), router) {
		return fmt.Errorf("default router %q is not a known router: %s", router, quoteAll(contract.Routers()))
	}
	DefaultRouter = router
	return nil
}
