package testcluster

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/eks-canary/platform/lambdas/contract"
)

// GatewayResource serves Gateway API Gateways.
var GatewayResource = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// Gateway is the Gateway the environment program creates in an application
// namespace with trafficLayer gatewayapi, for local planes (the demo, the
// scale bench) where no program runs.
func Gateway(namespace string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": contract.GatewayName, "namespace": namespace},
		"spec": map[string]any{
			"gatewayClassName": contract.GatewayClass,
			"listeners":        []any{map[string]any{"name": contract.GatewayListener, "protocol": "HTTP", "port": int64(80)}},
		},
	}}
}
