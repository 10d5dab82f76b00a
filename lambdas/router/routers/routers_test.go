package routers

import (
	"maps"
	"slices"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
)

func TestRegistryHoldsEveryContractRouter(t *testing.T) {
	got := slices.Sorted(maps.Keys(All()))
	want := slices.Sorted(slices.Values(contract.Routers()))
	if !slices.Equal(got, want) {
		t.Fatalf("registered routers %v, contract.Routers() %v: register every router and name it in the contract", got, want)
	}
}
