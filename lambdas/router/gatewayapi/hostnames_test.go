package gatewayapi

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func route(hostnames []any, parents []any) *unstructured.Unstructured {
	spec := map[string]any{"parentRefs": parents, "rules": []any{}}
	if hostnames != nil {
		spec["hostnames"] = hostnames
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "yelb-appserver", "namespace": "yelb"},
		"spec":     spec,
	}}
}

var gateway = []any{map[string]any{"name": "canary-gateway", "sectionName": "http"}}

func TestCheckRoute(t *testing.T) {
	const domain = "canary.internal"
	for _, tt := range []struct {
		name      string
		hostnames []any
		parents   []any
		domain    string
		want      string // "" accepts; else a part of the error
	}{
		{"the template's name", []any{"yelb-appserver.yelb.canary.internal"}, gateway, domain, ""},
		{"no service domain configured", []any{"yelb-appserver.yelb.example.com"}, gateway, "", ""},
		{"listener left to the controller", []any{"yelb-appserver.yelb.canary.internal"}, []any{map[string]any{"name": "canary-gateway"}}, domain, ""},
		{"no hostnames", nil, gateway, domain,
			`HTTPRoute yelb/yelb-appserver: spec.hostnames is empty: VPC Lattice takes the service's custom domain name from the first hostname, and callers reach the service by it; add hostnames: ["yelb-appserver.yelb.canary.internal"] (in the template: ["${MICROSERVICE_NAME}.${KUBERNETES_NAMESPACE}.${SERVICE_DOMAIN}"])`},
		{"empty list", []any{}, gateway, domain, "spec.hostnames is empty"},
		{"not strings", []any{int64(3)}, gateway, domain, "spec.hostnames: "},
		{"two names", []any{"a.yelb.canary.internal", "b.yelb.canary.internal"}, gateway, domain,
			`spec.hostnames has 2 names (a.yelb.canary.internal, b.yelb.canary.internal): VPC Lattice allows one custom domain name per service and ignores the others; keep only "a.yelb.canary.internal"`},
		{"wildcard", []any{"*.yelb.canary.internal"}, gateway, domain, `spec.hostnames[0] "*.yelb.canary.internal" is a wildcard`},
		{"single label", []any{"yelb-appserver"}, gateway, "", "is a single label, not a fully qualified name"},
		{"trailing dot", []any{"yelb-appserver.yelb.canary.internal."}, gateway, domain, "ends with a dot"},
		{"IP address", []any{"10.0.0.1"}, gateway, "", "is an IP address"},
		{"upper case", []any{"Yelb-Appserver.yelb.canary.internal"}, gateway, domain, "is not a DNS name"},
		{"label too long", []any{strings.Repeat("a", 64) + ".yelb.canary.internal"}, gateway, domain, "is not a DNS label"},
		{"outside the zone", []any{"yelb-appserver.yelb.example.com"}, gateway, domain,
			`spec.hostnames[0] "yelb-appserver.yelb.example.com" is not under the service domain "canary.internal", so ExternalDNS (limited to that private zone) cannot publish it; use hostnames: ["yelb-appserver.yelb.canary.internal"]`},
		{"the zone apex itself", []any{"canary.internal"}, gateway, domain, "is not under the service domain"},
		{"suffix but not a subdomain", []any{"yelb.notcanary.internal"}, gateway, domain, "is not under the service domain"},
		{"another gateway", []any{"yelb-appserver.yelb.canary.internal"}, []any{map[string]any{"name": "other", "sectionName": "http"}}, domain,
			"spec.parentRefs names no listener of Gateway canary-gateway: add parentRefs: [{name: canary-gateway, sectionName: http}]"},
		{"another listener", []any{"yelb-appserver.yelb.canary.internal"}, []any{map[string]any{"name": "canary-gateway", "sectionName": "https"}}, domain,
			"names no listener of Gateway canary-gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Router{}.CheckRoute(route(tt.hostnames, tt.parents), tt.domain)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted; want an error with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCheckRouteUpdate(t *testing.T) {
	name := func(h ...any) *unstructured.Unstructured { return route(h, gateway) }
	for _, tt := range []struct {
		name       string
		live, next *unstructured.Unstructured
		want       string
	}{
		{"same name", name("a.yelb.canary.internal"), name("a.yelb.canary.internal"), ""},
		{"live route had none", route(nil, gateway), name("a.yelb.canary.internal"), ""},
		{"renamed", name("a.yelb.canary.internal"), name("b.yelb.canary.internal"),
			`HTTPRoute yelb/yelb-appserver: spec.hostnames[0] changes from "a.yelb.canary.internal" to "b.yelb.canary.internal", but VPC Lattice cannot change a service's custom domain name once created: keep "a.yelb.canary.internal", or delete the HTTPRoute first so the service is created anew`},
		{"removed", name("a.yelb.canary.internal"), route(nil, gateway), `changes from "a.yelb.canary.internal" to none`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Router{}.CheckRouteUpdate(tt.live, tt.next)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
