package specs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/lambdas/router/gatewayapi"
)

// The HTTPRoutes of the sample meet the AWS Gateway API Controller's
// custom-domain rules, and yelb-ui calls the app server by exactly the name
// the app server's route claims, so its calls go through VPC Lattice and
// follow the app server's weights.
func TestLatticeRoutesClaimTheStableNames(t *testing.T) {
	claimed := map[string]string{}
	for _, s := range services {
		if s.inPlace {
			continue
		}
		r := render(t, s, "gatewayapi", "yelb", 3, 30)
		route := find(t, r, "HTTPRoute", s.name)
		if err := (gatewayapi.Router{}).CheckRoute(route, serviceDomain); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		hosts, _, _ := unstructured.NestedStringSlice(route.Object, "spec", "hostnames")
		if want := s.name + ".yelb." + serviceDomain; hosts[0] != want {
			t.Fatalf("%s route claims %q, want the stable name %q", s.name, hosts[0], want)
		}
		claimed[s.name] = hosts[0]

		// The TargetGroupPolicy health check asks the version's pods on a
		// port and path they serve.
		tgp := find(t, r, "TargetGroupPolicy", s.name+"-3")
		if ref := str(tgp, "spec", "targetRef", "name"); ref != s.name+"-3" {
			t.Fatalf("%s TargetGroupPolicy targets %q, want the version Service", s.name, ref)
		}
		_, pod := podSpec(t, find(t, r, "Deployment", s.name+"-3"))
		c := pod["containers"].([]any)[0].(map[string]any)
		port, _, _ := unstructured.NestedInt64(tgp.Object, "spec", "healthCheck", "port")
		ports, _, _ := unstructured.NestedSlice(c, "ports")
		if got := number(ports[0].(map[string]any)["containerPort"]); got != port || port != int64(s.port) {
			t.Fatalf("%s health check port %d, container port %d, Service port %d: they must agree", s.name, port, got, s.port)
		}
		path := str(tgp, "spec", "healthCheck", "path")
		liveness, _, _ := unstructured.NestedString(c, "livenessProbe", "httpGet", "path")
		if path != liveness {
			t.Fatalf("%s VPC Lattice checks %q but the pod answers health on %q", s.name, path, liveness)
		}
	}
	_, pod := podSpec(t, find(t, render(t, services[1], "gatewayapi", "yelb", 3, 30), "Deployment", "yelb-ui-3"))
	env := pod["containers"].([]any)[0].(map[string]any)["env"].([]any)
	endpoint := ""
	for _, e := range env {
		if m := e.(map[string]any); m["name"] == "YELB_APPSERVER_ENDPOINT" {
			endpoint, _ = m["value"].(string)
		}
	}
	if endpoint != "http://"+claimed["yelb-appserver"] {
		t.Fatalf("yelb-ui calls %q, want http://%s (the app server's VPC Lattice name)", endpoint, claimed["yelb-appserver"])
	}
	for _, s := range services {
		for _, rn := range routerNames {
			if strings.Contains(string(s.template(t, rn)), "configMapKeyRef") {
				t.Errorf("%s %s template reads a ConfigMap: nothing in sample mode creates one", s.name, rn)
			}
		}
	}
}

var dnsEndpoints = schema.GroupVersionResource{Group: "externaldns.k8s.io", Version: "v1alpha1", Resource: "dnsendpoints"}

// installDNSEndpointCRD creates the vendored DNSEndpoint CRD (see
// testdata/NOTICE) and waits until it is served.
func installDNSEndpointCRD(t *testing.T) {
	t.Helper()
	c := plane.Get(t)
	b, err := os.ReadFile("testdata/dnsendpoints.externaldns.k8s.io.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &crd.Object); err != nil {
		t.Fatal(err)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	ctx := context.Background()
	if _, err := c.Dynamic.Resource(crds).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create the DNSEndpoint CRD: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.Dynamic.Resource(dnsEndpoints).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("DNSEndpoint CRD not served: %v", err)
	}
}

// The rendered routes, applied to the real API server beside the DNSEndpoint
// the controller writes for each custom domain name (a CNAME to the name
// VPC Lattice assigns, TTL 300, as pkg/deploy/externaldns does), are all
// accepted whole; a wildcard or a second name is refused before anything is
// written, and so is a rename of a live route's custom domain.
func TestLatticeNamesOnTheAPIServer(t *testing.T) {
	installDNSEndpointCRD(t)
	c := plane.Get(t)
	ctx := context.Background()
	for _, s := range services {
		if s.inPlace {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			ns := c.Namespace(t)
			r := render(t, s, "gatewayapi", ns, 2, 100)
			applyRendered(t, c, r)
			route := get(t, c.Dynamic, find(t, r, "HTTPRoute", s.name))
			if err := (gatewayapi.Router{}).CheckRoute(route, serviceDomain); err != nil {
				t.Fatalf("stored route: %v", err)
			}
			hosts, _, _ := unstructured.NestedStringSlice(route.Object, "spec", "hostnames")
			ep := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "externaldns.k8s.io/v1alpha1", "kind": "DNSEndpoint",
				"metadata": map[string]any{"name": s.name, "namespace": ns},
				"spec": map[string]any{"endpoints": []any{map[string]any{
					"dnsName":    hosts[0],
					"recordType": "CNAME",
					"recordTTL":  int64(300),
					"targets":    []any{fmt.Sprintf("%s-%s-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws", s.name, ns)},
				}}},
			}}
			if err := apply(ctx, c, ep); err != nil {
				t.Fatalf("the DNSEndpoint for %s: %v", hosts[0], err)
			}

			next := render(t, s, "gatewayapi", ns, 3, 30)
			nextRoute := find(t, next, "HTTPRoute", s.name)
			if err := (gatewayapi.Router{}).CheckRouteUpdate(route, nextRoute); err != nil {
				t.Fatalf("the next step keeps the name: %v", err)
			}
			renamed := nextRoute.DeepCopy()
			_ = unstructured.SetNestedStringSlice(renamed.Object, []string{"new-" + hosts[0]}, "spec", "hostnames")
			if err := (gatewayapi.Router{}).CheckRouteUpdate(route, renamed); err == nil || !strings.Contains(err.Error(), "cannot change") {
				t.Fatalf("rename of a live custom domain: %v, want it refused", err)
			}
			for _, bad := range [][]string{{"*." + ns + "." + serviceDomain}, {hosts[0], "other." + serviceDomain}} {
				b := nextRoute.DeepCopy()
				_ = unstructured.SetNestedStringSlice(b.Object, bad, "spec", "hostnames")
				if err := (gatewayapi.Router{}).CheckRoute(b, serviceDomain); err == nil {
					t.Fatalf("hostnames %v accepted", bad)
				}
			}
		})
	}
}
