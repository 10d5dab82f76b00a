package gatewayapi

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router"
)

// A blue-green preview on the Gateway API is a second HTTPRoute,
// "<route>-preview", on the same Gateway listener, whose hostname is the
// route's with "-preview" added to its first label
// (shop.team.example.internal becomes shop-preview.team.example.internal)
// and whose rules send everything to the new version. VPC Lattice makes it
// a service of its own, so production traffic never reaches it by chance.
const PreviewSuffix = naming.PreviewSuffix

var _ router.Previewer = Router{}

// Preview returns route unchanged and its preview HTTPRoute.
func (Router) Preview(route *unstructured.Unstructured, items []map[string]any) ([]*unstructured.Unstructured, error) {
	at := fmt.Sprintf("HTTPRoute %s/%s", route.GetNamespace(), route.GetName())
	p := route.DeepCopy()
	p.SetName(route.GetName() + PreviewSuffix)
	labels := p.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[naming.LabelPreview] = "true"
	p.SetLabels(labels)
	hosts, _, err := unstructured.NestedStringSlice(p.Object, "spec", "hostnames")
	if err != nil || len(hosts) == 0 {
		return nil, fmt.Errorf("%s: spec.hostnames: the preview needs the route's hostname to derive its own", at)
	}
	host := previewHost(hosts[0])
	if err := checkFQDN(host, ""); err != nil {
		return nil, fmt.Errorf("%s: the preview hostname %q %w: shorten the route's first hostname label", at, host, err)
	}
	if err := unstructured.SetNestedStringSlice(p.Object, []string{host}, "spec", "hostnames"); err != nil {
		return nil, err
	}
	rules, _, err := unstructured.NestedSlice(p.Object, "spec", "rules")
	if err != nil {
		return nil, fmt.Errorf("%s: spec.rules: %w", at, err)
	}
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		if _, ok := rule["backendRefs"]; !ok {
			continue
		}
		refs := make([]any, len(items))
		for j, it := range items {
			refs[j] = runtime.DeepCopyJSONValue(map[string]any(it))
		}
		rule["backendRefs"] = refs
		rules[i] = rule
	}
	if err := unstructured.SetNestedSlice(p.Object, rules, "spec", "rules"); err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{route, p}, nil
}

func previewHost(host string) string {
	first, rest, _ := strings.Cut(host, ".")
	return first + PreviewSuffix + "." + rest
}

// PreviewAddress: the preview HTTPRoute's hostname.
func (Router) PreviewAddress(route *unstructured.Unstructured) string {
	hosts, _, _ := unstructured.NestedStringSlice(route.Object, "spec", "hostnames")
	if len(hosts) == 0 {
		return "HTTPRoute " + route.GetName() + PreviewSuffix
	}
	return "host " + previewHost(hosts[0])
}
