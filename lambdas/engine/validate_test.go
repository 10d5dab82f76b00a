package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// noCluster fails the test on any connection: Validate must judge its input
// without touching a cluster.
type noCluster struct{ t *testing.T }

func (c noCluster) Connect(_ context.Context, cluster, namespace string) (*engine.Session, error) {
	c.t.Errorf("Validate connected to cluster %q namespace %q", cluster, namespace)
	return nil, os.ErrPermission
}

func validator(t *testing.T, p template.Policy) *engine.Engine {
	return &engine.Engine{Connector: noCluster{t}, Routers: routers.All(), Policy: p, ServiceDomain: serviceDomain}
}

func testTemplate(t *testing.T, router string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + router + ".yml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// caseTemplate is a table case's router (Gateway API when the case names
// none) and its test template, changed by edit when the case has one.
func caseTemplate(t *testing.T, router string, edit func(*testing.T, string) string) (string, string) {
	t.Helper()
	if router == "" {
		router = contract.RouterGatewayAPI
	}
	tmpl := testTemplate(t, router)
	if edit != nil {
		tmpl = edit(t, tmpl)
	}
	return router, tmpl
}

// goodDeploy is a deploy.json Validate accepts, with tmpl as its template.
func goodDeploy(router, tmpl string) map[string]any {
	d := map[string]any{
		"cluster_name":            "canary-platform",
		"kubernetes_namespace":    "yelb",
		"microservice_name":       "shop",
		"percentage_step":         25,
		"failure_threshold_value": 0,
		"failure_threshold_time":  300,
		"container_image":         "registry.local/shop:2",
		"config_file":             base64.StdEncoding.EncodeToString([]byte(tmpl)),
		"router":                  router,
	}
	if router == contract.RouterGatewayAPI {
		d["wait_time"] = 90
	} else {
		d["wait_time"] = 60
	}
	return d
}

func marshal(t *testing.T, d map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Template edits on testdata/*.yml: each names the line it changes, so a
// changed test template fails loudly instead of silently not applying.
const (
	imageLine = "          image: ${CONTAINER_IMAGE}\n"
	podLine   = "    spec:\n      containers:\n"
)

func edit(t *testing.T, tmpl, old, new string) string {
	t.Helper()
	if !strings.Contains(tmpl, old) {
		t.Fatalf("template has no %q", old)
	}
	return strings.Replace(tmpl, old, new, 1)
}

// container adds fields to the workload's container.
func container(fields string) func(*testing.T, string) string {
	return func(t *testing.T, tmpl string) string { return edit(t, tmpl, imageLine, imageLine+fields) }
}

// pod adds fields to the workload's pod spec.
func pod(fields string) func(*testing.T, string) string {
	return func(t *testing.T, tmpl string) string {
		return edit(t, tmpl, podLine, "    spec:\n"+fields+"      containers:\n")
	}
}

// sidecar adds a container ahead of the workload's own.
func sidecar(item string) func(*testing.T, string) string {
	return func(t *testing.T, tmpl string) string {
		return edit(t, tmpl, "      containers:\n", "      containers:\n        - "+item+"\n")
	}
}

func appendDoc(doc string) func(*testing.T, string) string {
	return func(_ *testing.T, tmpl string) string { return tmpl + "---\n" + doc }
}

const statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: "${MICROSERVICE_NAME}-cache"}
spec:
  serviceName: cache
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
        - {name: cache, image: "redis:7.4"}
      volumes:
        - name: data
          hostPath: {path: /var/lib/redis}
`

func TestValidateRefusesBadInput(t *testing.T) {
	long := strings.Repeat("a", 200)
	cases := []struct {
		name   string
		router string                                 // default gatewayapi
		tmpl   func(*testing.T, string) string        // edits the router's test template
		change func(map[string]any)                   // edits deploy.json
		raw    func(t *testing.T, good []byte) []byte // replaces the bytes sent
		policy template.Policy
		want   []string // substrings of the message
		absent []string // must not appear: problems the user did not cause
	}{
		// Encodings and documents.
		{name: "empty input", raw: func(*testing.T, []byte) []byte { return nil }, want: []string{"deploy.json: is empty"}},
		{name: "only whitespace", raw: func(*testing.T, []byte) []byte { return []byte(" \n\t") }, want: []string{"deploy.json: is empty"}},
		{name: "byte order mark", raw: func(_ *testing.T, b []byte) []byte { return append([]byte("\xef\xbb\xbf"), b...) },
			want: []string{"deploy.json: starts with a UTF-8 byte order mark (BOM): save the file as UTF-8 without BOM"}},
		{name: "top-level array", raw: func(_ *testing.T, b []byte) []byte { return append(append([]byte("["), b...), ']') },
			want: []string{"deploy.json: is a JSON list: write one JSON object"}},
		{name: "top-level string", raw: func(*testing.T, []byte) []byte { return []byte(`"shop"`) }, want: []string{"deploy.json: is a single JSON string"}},
		{name: "null", raw: func(*testing.T, []byte) []byte { return []byte(`null`) }, want: []string{"deploy.json: is null"}},
		{name: "broken JSON", raw: func(*testing.T, []byte) []byte { return []byte("{\n  \"cluster_name\": \"c\",\n  \"wait_time\": ,\n}") },
			want: []string{"deploy.json: is not valid JSON: line 3, column 16: invalid character ',' looking for beginning of value"}},
		{name: "not UTF-8", raw: func(*testing.T, []byte) []byte { return []byte("{\"cluster_name\": \"\xff\"}") }, want: []string{"deploy.json: is not UTF-8 text"}},
		{name: "duplicate key", raw: func(_ *testing.T, b []byte) []byte {
			return append([]byte("{\n\"wait_time\": 5,\n"), b[1:]...)
		}, want: []string{"wait_time: is written twice (lines 2 and 3)", "JSON keeps only the last one"}},
		{name: "duplicate nested key", change: func(d map[string]any) {
			d["analysis"] = json.RawMessage(`{"interval": 90, "interval": 30}`)
		}, want: []string{"analysis.interval: is written twice"}},
		{name: "deploy.json too large", raw: func(_ *testing.T, b []byte) []byte {
			return append(b[:len(b)-1], append(bytes.Repeat([]byte(" "), spec.MaxDeployJSONBytes), '}')...)
		}, want: []string{"deploy.json: 65.", "KiB (", "bytes) is too large: keep it at most 64.0 KiB (65536 bytes)"}},
		{name: "template too large", tmpl: func(_ *testing.T, s string) string {
			return s + "# " + strings.Repeat("x", spec.MaxTemplateBytes) + "\n"
		},
			want: []string{"config_file: decodes to a template of 3", "more than the 32.0 KiB (32768 bytes) allowed"}},

		// deploy.json fields.
		{name: "wrong type hides nothing", change: func(d map[string]any) { d["wait_time"] = "90"; d["percentage_step"] = 0; d["cluster_name"] = "a b" },
			want:   []string{`wait_time: "90" has the wrong type: use a whole number`, "percentage_step: 0 is not allowed", `cluster_name: "a b" is not a valid EKS cluster name`},
			absent: []string{"wait_time: 0"}},
		{name: "mistyped router judges nothing else by it", change: func(d map[string]any) {
			d["router"] = 5
			d["analysis"] = map[string]any{"max_latency_p99_ms": 300}
		}, want: []string{"router: 5 has the wrong type"}, absent: []string{"needs router", "wait_time"}},
		{name: "mistyped required field is not missing", change: func(d map[string]any) { d["container_image"] = 42 },
			want: []string{"container_image: 42 has the wrong type: use a string"}, absent: []string{"is missing"}},
		{name: "mistyped list", change: func(d map[string]any) { d["steps"] = []any{10, "x"}; d["manual_promotion"] = true },
			want: []string{`steps[1]: "x" has the wrong type: use a whole-number weight 1..100, e.g. 25`}, absent: []string{"manual_promotion", "is empty"}},
		{name: "default derived from a bad wait_time", router: contract.RouterAppMesh, change: func(d map[string]any) { d["wait_time"] = 5 },
			want: []string{"wait_time: 5 is not allowed: use 10..86400 seconds"}, absent: []string{"analysis.interval"}},
		{name: "default derived from a bad threshold", change: func(d map[string]any) { d["failure_threshold_value"] = -1 },
			want: []string{"failure_threshold_value: -1 is not allowed"}, absent: []string{"analysis.max_error_count"}},
		{name: "long value cut", change: func(d map[string]any) { d["microservice_name"] = long },
			want: []string{`microservice_name: "aaaa`, `..." (200 characters) is not allowed`}, absent: []string{long}},
		{name: "long wrong-typed value cut", change: func(d map[string]any) { d["wait_time"] = long },
			want: []string{"(202 characters) has the wrong type"}, absent: []string{long, "wait_time: 0"}},
		{name: "kube-system namespace", change: func(d map[string]any) { d["kubernetes_namespace"] = "kube-system" },
			want: []string{`kubernetes_namespace: "kube-system" is refused: kube-* namespaces belong to Kubernetes itself: use the application namespace`}},
		{name: "default namespace", change: func(d map[string]any) { d["kubernetes_namespace"] = "default" },
			want: []string{`kubernetes_namespace: "default" is refused: the default namespace is not an application namespace`}},
		{name: "platform namespace", change: func(d map[string]any) { d["kubernetes_namespace"] = contract.NamespaceGatewayController },
			want: []string{`kubernetes_namespace: "` + contract.NamespaceGatewayController + `" is refused: it holds the platform's own controllers`}},
		{name: "image without tag", change: func(d map[string]any) { d["container_image"] = "registry.local/shop" },
			want: []string{`container_image: "registry.local/shop" has no tag (it means latest, which moves): tag every build`}},
		{name: "image latest", change: func(d map[string]any) { d["container_image"] = "registry.local:5000/shop:latest" },
			want: []string{`container_image: "registry.local:5000/shop:latest" uses the moving tag latest`}},
		{name: "config_file not base64", change: func(d map[string]any) { d["config_file"] = "%%%" }, want: []string{"config_file: is not base64"}},
		{name: "unknown field", change: func(d map[string]any) { d["wiat_time"] = 90 }, want: []string{`wiat_time: is not a known field: did you mean "wait_time"?`}},
		{name: "analysis not an object", change: func(d map[string]any) { d["analysis"] = "fast" }, want: []string{`analysis: "fast" is not an object`}},

		// Pods.
		{name: "privileged", tmpl: container("          securityContext: {privileged: true}\n"),
			want: []string{`line 24: Deployment/shop-1: spec.template.spec.containers[0].securityContext.privileged (container "app"): true is refused: a privileged container has full access to the node; remove privileged`}},
		{name: "privilege escalation", tmpl: container("          securityContext: {allowPrivilegeEscalation: true}\n"),
			want: []string{`containers[0].securityContext.allowPrivilegeEscalation (container "app"): true is refused`, "set allowPrivilegeEscalation: false"}},
		{name: "added capability", tmpl: container("          securityContext: {capabilities: {add: [NET_BIND_SERVICE, NET_ADMIN]}}\n"),
			want:   []string{`containers[0].securityContext.capabilities.add[1] (container "app"): "NET_ADMIN" is refused: templates may add only NET_BIND_SERVICE`},
			absent: []string{"add[0]"}},
		{name: "pod seccomp unconfined", tmpl: pod("      securityContext: {seccompProfile: {type: Unconfined}}\n"),
			want: []string{`spec.template.spec.securityContext.seccompProfile.type: "Unconfined" is refused: it lifts the system-call filter; use RuntimeDefault`}},
		{name: "host network", tmpl: pod("      hostNetwork: true\n"), want: []string{"spec.template.spec.hostNetwork: true is refused: the pod would share the node's network"}},
		{name: "host PID", tmpl: pod("      hostPID: true\n"), want: []string{"spec.template.spec.hostPID: true is refused"}},
		{name: "host IPC", tmpl: pod("      hostIPC: true\n"), want: []string{"spec.template.spec.hostIPC: true is refused"}},
		{name: "hostPath volume", tmpl: pod("      volumes: [{name: root, hostPath: {path: /}}]\n"),
			want: []string{`spec.template.spec.volumes[0] ("root").hostPath is refused: it mounts the node's own files into the pod; use emptyDir`}},
		{name: "host port", tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "ports: [{containerPort: 8080}]", "ports: [{containerPort: 8080, hostPort: 8080}]")
		}, want: []string{`containers[0].ports[0].hostPort (container "app"): 8080 is refused: it binds a port on the node itself`}},
		{name: "privileged init container", tmpl: pod("      initContainers: [{name: init, image: \"busybox:1.36\", securityContext: {privileged: true}}]\n"),
			want: []string{`spec.template.spec.initContainers[0].securityContext.privileged (container "init"): true is refused`}},
		{name: "init container without tag", tmpl: pod("      initContainers: [{name: init, image: busybox}]\n"),
			want: []string{`spec.template.spec.initContainers[0].image (container "init"): "busybox" has no tag (it means latest, which moves): pin a version tag or a digest`}},
		{name: "sidecar latest", tmpl: sidecar(`{name: proxy, image: "docker.io/envoyproxy/envoy:latest"}`),
			want: []string{`containers[0].image (container "proxy"): "docker.io/envoyproxy/envoy:latest" uses the moving tag latest`}},
		{name: "ephemeral container without tag", tmpl: pod("      ephemeralContainers: [{name: debug, image: \"registry.local/debug\"}]\n"),
			want: []string{`spec.template.spec.ephemeralContainers[0].image (container "debug"): "registry.local/debug" has no tag`}},
		{name: "invalid image in template", tmpl: sidecar(`{name: bad, image: "Upper/Case"}`),
			want: []string{`containers[0].image (container "bad"): "Upper/Case" is not a valid image reference`}},
		{name: "long image cut", tmpl: sidecar(`{name: long, image: "registry.local/` + long + `"}`),
			want: []string{"(215 characters) has no tag"}, absent: []string{long}},
		{name: "other service account", tmpl: pod("      serviceAccountName: admin\n"),
			want: []string{`spec.template.spec.serviceAccountName: "admin" is refused: pods would run with another workload's permissions; this environment allows the namespace's default ServiceAccount only (CANARY_ALLOWED_SERVICE_ACCOUNTS)`}},
		{name: "deprecated serviceAccount", tmpl: pod("      serviceAccount: admin\n"), policy: template.Policy{ServiceAccounts: []string{contract.AppMeshEnvoyServiceAccount}},
			want: []string{`spec.template.spec.serviceAccount: "admin" is refused`, "default ServiceAccount or " + contract.AppMeshEnvoyServiceAccount}},
		{name: "App Mesh account not allowed by the environment", router: contract.RouterAppMesh, tmpl: pod("      serviceAccountName: " + contract.AppMeshEnvoyServiceAccount + "\n"),
			want: []string{`serviceAccountName: "` + contract.AppMeshEnvoyServiceAccount + `" is refused`}},
		{name: "StatefulSet hostPath", tmpl: appendDoc(statefulSet),
			want: []string{`StatefulSet/shop-cache: spec.template.spec.volumes[0] ("data").hostPath is refused`}},

		// Services.
		{name: "external IPs", tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "  ports: [{name: http, port: 8080}]", "  ports: [{name: http, port: 8080}]\n  externalIPs: [203.0.113.7, 203.0.113.8]")
		}, want: []string{`Service/shop-1: spec.externalIPs: "203.0.113.7, 203.0.113.8" is refused`}},
		{name: "LoadBalancer", tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "  ports: [{name: http, port: 8080}]", "  type: LoadBalancer\n  ports: [{name: http, port: 8080}]")
		}, want: []string{`spec.type: "LoadBalancer" is refused: this environment allows Service types ClusterIP (CANARY_ALLOWED_SERVICE_TYPES)`}},
		{name: "NodePort beyond the allowed types", policy: template.Policy{ServiceTypes: []string{"LoadBalancer"}}, tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "  ports: [{name: http, port: 8080}]", "  type: NodePort\n  ports: [{name: http, port: 8080}]")
		}, want: []string{`spec.type: "NodePort" is refused: this environment allows Service types ClusterIP, LoadBalancer`}},

		// Kinds, namespaces and routers.
		{name: "template in kube-system", tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "  namespace: ${KUBERNETES_NAMESPACE}\n", "  namespace: kube-system\n")
		}, want: []string{`namespace "kube-system" is not the rollout's namespace "yelb"`}},
		{name: "secret", tmpl: appendDoc("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"), want: []string{"Secret/creds: Secrets are refused"}},
		{name: "cluster role", tmpl: appendDoc("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: all}\n"), want: []string{"ClusterRole is cluster-scoped"}},
		{name: "service account object", tmpl: appendDoc("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: mine}\n"), want: []string{"kind ServiceAccount (v1) is not allowed"}},
		{name: "App Mesh template under gatewayapi", tmpl: func(t *testing.T, _ string) string { return testTemplate(t, contract.RouterAppMesh) },
			want:   []string{`this template is written for router appmesh (its route VirtualRouter/shop), but deploy.json says router "gatewayapi"`, `set "router": "appmesh"`},
			absent: []string{"port 0"}},
		{name: "Gateway API template under appmesh", router: contract.RouterAppMesh, tmpl: func(t *testing.T, _ string) string { return testTemplate(t, contract.RouterGatewayAPI) },
			want: []string{`this template is written for router gatewayapi (its route HTTPRoute/shop), but deploy.json says router "appmesh"`}},
		{name: "route without a custom domain", tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "  hostnames: [\"${MICROSERVICE_NAME}.${KUBERNETES_NAMESPACE}.${SERVICE_DOMAIN}\"]\n", "")
		}, want: []string{"HTTPRoute yelb/shop: spec.hostnames is empty", `shop.yelb.` + serviceDomain}},
		{name: "custom domain outside the service domain", tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "${MICROSERVICE_NAME}.${KUBERNETES_NAMESPACE}.${SERVICE_DOMAIN}", "shop.example.com")
		}, want: []string{`spec.hostnames[0] "shop.example.com"`}},
		{name: "every template problem at once", tmpl: func(t *testing.T, s string) string {
			s = pod("      hostNetwork: true\n")(t, s)
			s = container("          securityContext: {privileged: true}\n")(t, s)
			return appendDoc("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n")(t, s)
		}, want: []string{"3 problems", "hostNetwork: true is refused", "privileged (container \"app\"): true is refused", "Secrets are refused"}},
		{name: "deploy.json and template problems at once", tmpl: pod("      hostPID: true\n"), change: func(d map[string]any) { d["percentage_step"] = 500 },
			want: []string{"invalid deploy.json: percentage_step: 500 is not allowed", "invalid kubernetes template: line 24: Deployment/shop-1: spec.template.spec.hostPID: true is refused"}},
	}
	if len(cases) < 40 {
		t.Fatalf("%d cases; the table must hold at least 40 bad inputs", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			router, tmpl := caseTemplate(t, c.router, c.tmpl)
			d := goodDeploy(router, tmpl)
			if c.change != nil {
				c.change(d)
			}
			raw := marshal(t, d)
			if c.raw != nil {
				raw = c.raw(t, raw)
			}
			out, err := validator(t, c.policy).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: raw})
			if err == nil {
				t.Fatalf("Validate accepted it: %s", out)
			}
			t.Log(err)
			requireRefused(t, err, c.want, c.absent)
		})
	}
}

// What a well-formed template needs passes: without these, the table above
// could pass by refusing everything.
func TestValidateAcceptsWhatTheRulesAllow(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("a", 64)
	envoy := template.Policy{ServiceAccounts: []string{contract.AppMeshEnvoyServiceAccount}}
	cases := []struct {
		name, router string
		tmpl         func(*testing.T, string) string
		change       func(map[string]any)
		policy       template.Policy
	}{
		{name: "gatewayapi test template", router: contract.RouterGatewayAPI},
		{name: "appmesh test template", router: contract.RouterAppMesh},
		{name: "restricted container", router: contract.RouterGatewayAPI, tmpl: container(
			"          securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}, seccompProfile: {type: RuntimeDefault}}\n")},
		{name: "App Mesh account the environment allows", router: contract.RouterAppMesh, policy: envoy,
			tmpl: pod("      serviceAccountName: " + contract.AppMeshEnvoyServiceAccount + "\n")},
		{name: "explicit default account", router: contract.RouterGatewayAPI, tmpl: pod("      serviceAccountName: default\n")},
		{name: "pinned init and sidecar images", router: contract.RouterGatewayAPI,
			tmpl: pod("      initContainers: [{name: init, image: \"busybox" + digest + "\"}, {name: migrate, image: \"registry.local/migrate:1.2\"}]\n")},
		{name: "image by digest", router: contract.RouterGatewayAPI, change: func(d map[string]any) { d["container_image"] = "registry.local/shop" + digest }},
		{name: "allowed Service type", router: contract.RouterGatewayAPI, policy: template.Policy{ServiceTypes: []string{"LoadBalancer"}}, tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "  ports: [{name: http, port: 8080}]", "  type: LoadBalancer\n  ports: [{name: http, port: 8080}]")
		}},
		{name: "hostPort 0 means none", router: contract.RouterGatewayAPI, tmpl: func(t *testing.T, s string) string {
			return edit(t, s, "ports: [{containerPort: 8080}]", "ports: [{containerPort: 8080, hostPort: 0}]")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl := testTemplate(t, c.router)
			if c.tmpl != nil {
				tmpl = c.tmpl(t, tmpl)
			}
			d := goodDeploy(c.router, tmpl)
			if c.change != nil {
				c.change(d)
			}
			if _, err := validator(t, c.policy).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: marshal(t, d)}); err != nil {
				t.Fatalf("Validate refused it: %v", err)
			}
		})
	}
}

// The limits on deploy.json and its template keep the largest state a
// rollout can reach within the state budget, itself below Step Functions'
// 256 KiB.
func TestLimitsKeepTheStateWithinTheBudget(t *testing.T) {
	if engine.MaxStateBytes >= 256<<10 {
		t.Fatalf("state budget %d is not below Step Functions' 256 KiB", engine.MaxStateBytes)
	}
	tmpl := testTemplate(t, contract.RouterGatewayAPI)
	// The largest template Validate accepts, in the largest deploy.json.
	tmpl += "# " + strings.Repeat("x", spec.MaxTemplateBytes-len(tmpl)-3) + "\n"
	d := goodDeploy(contract.RouterGatewayAPI, tmpl)
	d["cluster_name"] = strings.Repeat("c", 100)
	raw := marshal(t, d)
	raw = append(raw[:len(raw)-1], append(bytes.Repeat([]byte(" "), spec.MaxDeployJSONBytes-len(raw)), '}')...)
	if len(raw) != spec.MaxDeployJSONBytes {
		t.Fatalf("built %d bytes", len(raw))
	}
	out, err := validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: raw})
	if err != nil {
		t.Fatalf("Validate refused the largest input: %v", err)
	}
	var st engine.State
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	worst := engine.ProjectedStateBytes(st.Spec)
	t.Logf("largest accepted deploy.json %d bytes; its state after Validate %d bytes; projected worst case %d bytes; budget %d",
		len(raw), len(out), worst, engine.MaxStateBytes)
	if worst > engine.MaxStateBytes {
		t.Errorf("the limits allow a state of %d bytes, above the %d budget", worst, engine.MaxStateBytes)
	}
	// And the sample's state is far below it.
	sample := marshal(t, goodDeploy(contract.RouterAppMesh, testTemplate(t, contract.RouterAppMesh)))
	out, err = validator(t, template.Policy{}).Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "arn:validate", State: sample})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("test template deploy.json %d bytes; state after Validate %d bytes; projected worst case %d bytes", len(sample), len(out), engine.ProjectedStateBytes(st.Spec))
}

// requireRefused fails unless err is a validation error whose message names
// every want and none of absent, which the input did not cause.
func requireRefused(t *testing.T, err error, want, absent []string) {
	t.Helper()
	if name := engine.ErrorName(err); name != statemachine.ErrValidation {
		t.Errorf("error name %q, want %q: %v", name, statemachine.ErrValidation, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q:\n%v", w, err)
		}
	}
	for _, a := range absent {
		if strings.Contains(err.Error(), a) {
			t.Errorf("message mentions %q, which the input did not cause:\n%v", a, err)
		}
	}
}
