package gatewayapi

import (
	"fmt"
	"net"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/eks-canary/platform/lambdas/contract"
)

// What VPC Lattice and the AWS Gateway API Controller require of the
// HTTPRoute that stands for a microservice (controller docs "Configure a
// Custom Domain Name for HTTPRoute", pkg/gateway/model_build_lattice_service.go):
//   - the first of spec.hostnames becomes the service's custom domain name,
//     and the controller writes a DNSEndpoint (a CNAME to the
//     Lattice-assigned name) for ExternalDNS; without one, callers only
//     have a generated name nobody can know in advance;
//   - one custom domain per service: further hostnames are ignored;
//   - it is a concrete FQDN (a CNAME cannot be a wildcard, and VPC Lattice
//     picks the service by the request's Host, which is never "*.x");
//   - it cannot be modified once the service exists.
// The platform adds: the name lies under the stack's service domain, the
// private zone ExternalDNS writes to, and the route attaches to the
// environment's Gateway.

// CheckRoute refuses an HTTPRoute that would give its VPC Lattice service no
// usable custom domain name. serviceDomain is the stack's private DNS
// domain; empty skips the zone check.
func (Router) CheckRoute(obj *unstructured.Unstructured, serviceDomain string) error {
	at := fmt.Sprintf("HTTPRoute %s/%s", obj.GetNamespace(), obj.GetName())
	want := fmt.Sprintf(`hostnames: ["%s.%s.%s"] (in the template: ["${MICROSERVICE_NAME}.${KUBERNETES_NAMESPACE}.${SERVICE_DOMAIN}"])`,
		obj.GetName(), obj.GetNamespace(), domainOr(serviceDomain))
	hosts, _, err := unstructured.NestedStringSlice(obj.Object, "spec", "hostnames")
	if err != nil {
		return fmt.Errorf("%s: spec.hostnames: %w: give a list of strings, e.g. %s", at, err, want)
	}
	if len(hosts) == 0 {
		return fmt.Errorf("%s: spec.hostnames is empty: VPC Lattice takes the service's custom domain name from the first hostname, "+
			"and callers reach the service by it; add %s to the template", at, want)
	}
	if len(hosts) > 1 {
		return fmt.Errorf("%s: spec.hostnames has %d names (%s): VPC Lattice allows one custom domain name per service and ignores the others; keep only %q",
			at, len(hosts), strings.Join(hosts, ", "), hosts[0])
	}
	if err := checkFQDN(hosts[0], serviceDomain); err != nil {
		return fmt.Errorf("%s: spec.hostnames[0] %q %w; use %s", at, hosts[0], err, want)
	}
	return checkParent(obj, at)
}

// CheckRouteUpdate refuses to change the custom domain name of a route that
// already exists: VPC Lattice cannot modify it after the service is created.
func (Router) CheckRouteUpdate(live, next *unstructured.Unstructured) error {
	old, _, _ := unstructured.NestedStringSlice(live.Object, "spec", "hostnames")
	now, _, _ := unstructured.NestedStringSlice(next.Object, "spec", "hostnames")
	if len(old) == 0 {
		return nil
	}
	if len(now) == 0 || now[0] != old[0] {
		got := "none"
		if len(now) > 0 {
			got = fmt.Sprintf("%q", now[0])
		}
		return fmt.Errorf("HTTPRoute %s/%s: spec.hostnames[0] changes from %q to %s, but VPC Lattice cannot change a service's custom domain name "+
			"once created: keep %q, or delete the HTTPRoute first so the service is created anew", next.GetNamespace(), next.GetName(), old[0], got, old[0])
	}
	return nil
}

func checkFQDN(host, serviceDomain string) error {
	switch {
	case strings.Contains(host, "*"):
		return fmt.Errorf("is a wildcard: a VPC Lattice custom domain name is one concrete name")
	case strings.HasSuffix(host, "."):
		return fmt.Errorf("ends with a dot: the Gateway API takes the name without it")
	case net.ParseIP(host) != nil:
		return fmt.Errorf("is an IP address, not a DNS name")
	}
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return fmt.Errorf("is not a DNS name (%s)", strings.Join(msgs, "; "))
	}
	for _, label := range strings.Split(host, ".") {
		if msgs := validation.IsDNS1123Label(label); len(msgs) > 0 {
			return fmt.Errorf("has label %q that is not a DNS label (%s)", label, strings.Join(msgs, "; "))
		}
	}
	if !strings.Contains(host, ".") {
		return fmt.Errorf("is a single label, not a fully qualified name")
	}
	if serviceDomain != "" && !strings.HasSuffix(host, "."+strings.TrimSuffix(serviceDomain, ".")) {
		return fmt.Errorf("is not under the service domain %q, so ExternalDNS (limited to that private zone) cannot publish it", serviceDomain)
	}
	return nil
}

// checkParent: the route must attach to the environment's Gateway, whose
// listener becomes the VPC Lattice service's listener.
func checkParent(obj *unstructured.Unstructured, at string) error {
	refs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "parentRefs")
	for _, r := range refs {
		m, _ := r.(map[string]any)
		name, _, _ := unstructured.NestedString(m, "name")
		section, _, _ := unstructured.NestedString(m, "sectionName")
		if name == contract.GatewayName && (section == "" || section == contract.GatewayListener) {
			return nil
		}
	}
	return fmt.Errorf("%s: spec.parentRefs names no listener of Gateway %s: add parentRefs: [{name: %s, sectionName: %s}]",
		at, contract.GatewayName, contract.GatewayName, contract.GatewayListener)
}

func domainOr(d string) string {
	if d == "" {
		return "${SERVICE_DOMAIN}"
	}
	return d
}
