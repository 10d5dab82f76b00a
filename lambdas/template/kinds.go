package template

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind is an object kind a template may hold, with the resource name RBAC
// grants need.
type Kind struct {
	Group, Version, Kind, Resource string
}

// GroupVersionKind of the allowed kind.
func (k Kind) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}

// AllowedKinds are the kinds a template may hold: the workload and its
// networking for both routers, all namespaced. The list matches what the
// engine's namespace Role lets it write, so a template is refused before the
// rollout starts rather than failing half-applied with "forbidden".
// ServiceAccounts are not among them: the environment creates the one App
// Mesh pods use, and the engine may only read them. PodDisruptionBudgets and
// HorizontalPodAutoscalers would need the Role to grant policy and
// autoscaling resources first. Jobs are rollout hooks' documents: the engine
// creates one per hook run, never with the microservice's objects.
func AllowedKinds() []Kind {
	return []Kind{
		{"apps", "v1", "Deployment", "deployments"},
		{"apps", "v1", "StatefulSet", "statefulsets"},
		{"", "v1", "Service", "services"},
		{"", "v1", "ConfigMap", "configmaps"},
		{"appmesh.k8s.aws", "v1beta2", "VirtualNode", "virtualnodes"},
		{"appmesh.k8s.aws", "v1beta2", "VirtualRouter", "virtualrouters"},
		{"appmesh.k8s.aws", "v1beta2", "VirtualService", "virtualservices"},
		{"gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"},
		{"application-networking.k8s.aws", "v1alpha1", "TargetGroupPolicy", "targetgrouppolicies"},
		{"batch", "v1", "Job", "jobs"},
	}
}

// clusterScoped are kinds a template might plausibly carry that have no
// namespace; naming them gives a clearer refusal than "not allowed".
var clusterScoped = map[string]bool{
	"Namespace": true, "Mesh": true, "GatewayClass": true, "ServiceNetwork": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "CustomResourceDefinition": true,
	"PersistentVolume": true, "StorageClass": true, "PriorityClass": true, "Node": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
}

func allowedVersion(kind string) string {
	for _, k := range AllowedKinds() {
		if k.Kind == kind {
			return schema.GroupVersion{Group: k.Group, Version: k.Version}.String()
		}
	}
	return ""
}

func kindList() string {
	var names []string
	for _, k := range AllowedKinds() {
		names = append(names, k.Kind)
	}
	return strings.Join(names, ", ")
}
