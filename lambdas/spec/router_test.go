package spec

import (
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
)

func TestDefaultRouterFollowsTheEnvironment(t *testing.T) {
	t.Cleanup(func() { DefaultRouter = OriginalRouter })
	ab := map[string]any{"headers": []any{header("name", "x-canary", "value", "always")}}
	for _, tt := range []struct {
		name        string
		environment string // SetDefaultRouter's argument; "" leaves it unset
		changes     map[string]any
		router      string
		waitTime    int // derived from the router when deploy.json has none
	}{
		{"outside an environment", "", map[string]any{"wait_time": nil}, contract.RouterAppMesh, 60},
		{"a Gateway API stack", contract.RouterGatewayAPI, map[string]any{"wait_time": nil, "ab": ab}, contract.RouterGatewayAPI, 90},
		{"an App Mesh stack", contract.RouterAppMesh, map[string]any{"wait_time": nil}, contract.RouterAppMesh, 60},
		{"deploy.json's own router wins", contract.RouterGatewayAPI, map[string]any{"router": contract.RouterAppMesh, "wait_time": nil}, contract.RouterAppMesh, 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			DefaultRouter = OriginalRouter
			if tt.environment != "" {
				if err := SetDefaultRouter(tt.environment); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Parse(encode(t, with(tt.changes)))
			if err != nil {
				t.Fatal(err)
			}
			if s.Router != tt.router || s.WaitTime != tt.waitTime {
				t.Errorf("router %q wait_time %d, want %q and %d", s.Router, s.WaitTime, tt.router, tt.waitTime)
			}
			if s.HasAB() && s.AB.Duration != tt.waitTime {
				t.Errorf("ab.duration %d, want wait_time %d", s.AB.Duration, tt.waitTime)
			}
			if got := s.WithDefaults(); got.Router != tt.router {
				t.Errorf("WithDefaults router %q, want %q", got.Router, tt.router)
			}
			if without := (Spec{}).WithDefaults(); without.Router != DefaultRouter {
				t.Errorf("a spec without router defaults to %q, want %q", without.Router, DefaultRouter)
			}
		})
	}
	DefaultRouter = contract.RouterGatewayAPI
	err := SetDefaultRouter("istio")
	if err == nil || !strings.Contains(err.Error(), `"istio" is not a known router: use "gatewayapi" or "appmesh"`) {
		t.Errorf("SetDefaultRouter(istio): %v", err)
	}
	if DefaultRouter != contract.RouterGatewayAPI {
		t.Errorf("a refused router changed the default to %q", DefaultRouter)
	}
}
