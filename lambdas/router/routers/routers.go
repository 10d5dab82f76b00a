// Package routers is the registry of traffic routers, keyed by their Name(),
// which is a contract.Routers() value. The Lambda, the local runner and the
// tests take their routers from here, so a new router is added in one place.
package routers

import (
	"github.com/eks-canary/platform/lambdas/router"
	"github.com/eks-canary/platform/lambdas/router/appmesh"
	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
)

// All returns a fresh map of every router by name.
func All() map[string]router.Router {
	out := map[string]router.Router{}
	for _, r := range []router.Router{gatewayapi.Router{}, appmesh.Router{}} {
		out[r.Name()] = r
	}
	return out
}
