package template

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// deployment is a Deployment whose pod spec is pod, indented under spec.template.spec.
func deployment(pod string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: "${MICROSERVICE_NAME}-${CANARY_VERSION}"}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
` + pod
}

// annotated is a Deployment whose pod template carries annotations (a YAML
// flow map) and whose pod spec is pod.
func annotated(annotations, pod string) string {
	return strings.Replace(deployment(pod), "metadata: {labels: {app: x}}", "metadata: {labels: {app: x}, annotations: "+annotations+"}", 1)
}

// app is a pod spec holding one container "a" running the microservice's
// image, with extra fields (a YAML flow map's inner part) in the container.
func app(fields string) string {
	if fields != "" {
		fields = ", " + fields
	}
	return "      containers: [{name: a, image: \"${CONTAINER_IMAGE}\"" + fields + "}]\n"
}

func TestCheckRefusesWhatReachesBeyondTheMicroservice(t *testing.T) {
	cases := []struct {
		name, tmpl string
		policy     Policy
		want       []string
		problems   int // how many problems; 0 means 1
	}{
		// Pod Security baseline.
		{name: "privileged", tmpl: deployment(app("securityContext: {privileged: true}")),
			want: []string{`line 1: Deployment/shop-3: spec.template.spec.containers[0].securityContext.privileged (container "a"): true is refused: a privileged container has full access to the node; remove privileged`}},
		{name: "privileged init container", tmpl: deployment("      initContainers: [{name: init, image: \"busybox:1.36\", securityContext: {privileged: true}}]\n" + app("")),
			want: []string{`spec.template.spec.initContainers[0].securityContext.privileged (container "init"): true is refused`}},
		{name: "privileged ephemeral container", tmpl: deployment(app("") + "      ephemeralContainers: [{name: debug, image: \"busybox:1.36\", securityContext: {privileged: true}}]\n"),
			want: []string{`spec.template.spec.ephemeralContainers[0].securityContext.privileged (container "debug"): true is refused`}},
		{name: "privileged second container", tmpl: deployment("      containers: [{name: a, image: \"${CONTAINER_IMAGE}\", securityContext: {privileged: false}}, {name: b, image: \"busybox:1.36\", securityContext: {privileged: true}}]\n"),
			want: []string{`spec.template.spec.containers[1].securityContext.privileged (container "b"): true is refused`}},
		{name: "host network", tmpl: deployment("      hostNetwork: true\n" + app("")),
			want: []string{"spec.template.spec.hostNetwork: true is refused: the pod would share the node's network and see its traffic; remove hostNetwork"}},
		{name: "host PID", tmpl: deployment("      hostPID: true\n" + app("")),
			want: []string{"spec.template.spec.hostPID: true is refused: the pod would see and signal every process on the node; remove hostPID"}},
		{name: "host IPC", tmpl: deployment("      hostIPC: true\n" + app("")),
			want: []string{"spec.template.spec.hostIPC: true is refused: the pod would share the node's shared memory; remove hostIPC"}},
		{name: "every host namespace", tmpl: deployment("      hostNetwork: true\n      hostPID: true\n      hostIPC: true\n" + app("")),
			want: []string{"hostNetwork: true is refused", "hostPID: true is refused", "hostIPC: true is refused"}, problems: 3},
		{name: "hostPath volume", tmpl: deployment(app("") + "      volumes: [{name: tmp, emptyDir: {}}, {name: root, hostPath: {path: /}}]\n"),
			want: []string{`spec.template.spec.volumes[1] ("root").hostPath is refused: it mounts the node's own files into the pod; use emptyDir, a ConfigMap or a StatefulSet volumeClaimTemplate`}},
		{name: "host port, reported once", tmpl: deployment(app("ports: [{containerPort: 80}, {containerPort: 8080, hostPort: 8080}]")),
			want: []string{`spec.template.spec.containers[0].ports[1].hostPort (container "a"): 8080 is refused: it binds a port on the node itself; remove hostPort, the Services carry the traffic`}},
		{name: "capability beyond baseline", tmpl: deployment(app("securityContext: {capabilities: {add: [NET_BIND_SERVICE, NET_ADMIN]}}")),
			want: []string{`spec.template.spec.containers[0].securityContext.capabilities.add[1] (container "a"): "NET_ADMIN" is refused: templates may add only NET_BIND_SERVICE (the App Mesh proxy's NET_ADMIN is injected by the mesh, never written in a template); remove it`}},
		{name: "capability named with CAP_", tmpl: deployment(app("securityContext: {capabilities: {add: [CAP_SYS_ADMIN]}}")),
			want: []string{`capabilities.add[0] (container "a"): "CAP_SYS_ADMIN" is refused: templates may add only NET_BIND_SERVICE`}},
		{name: "allowed capability spelled with CAP_", tmpl: deployment(app("securityContext: {capabilities: {add: [CAP_NET_BIND_SERVICE]}}")),
			want: []string{`capabilities.add[0] (container "a"): "CAP_NET_BIND_SERVICE" is refused: Pod Security matches capabilities by their exact names, in capitals and without CAP_; write NET_BIND_SERVICE`}},
		{name: "allowed capability in small letters", tmpl: deployment(app("securityContext: {capabilities: {add: [net_bind_service]}}")),
			want: []string{`capabilities.add[0] (container "a"): "net_bind_service" is refused: Pod Security matches capabilities by their exact names`}},
		{name: "capability baseline allows but the platform does not", tmpl: deployment(app("securityContext: {capabilities: {add: [SYS_CHROOT]}}")),
			want: []string{`capabilities.add[0] (container "a"): "SYS_CHROOT" is refused: templates may add only NET_BIND_SERVICE`}},
		{name: "AppArmor annotation unconfined", tmpl: annotated(`{container.apparmor.security.beta.kubernetes.io/a: unconfined}`, app("")),
			want: []string{`spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/a"]: "unconfined" is refused: it runs container "a" without AppArmor confinement; remove the annotation (the runtime's default profile applies), or set securityContext.appArmorProfile.type: RuntimeDefault`}},
		{name: "AppArmor annotation of one container of two", tmpl: annotated(`{container.apparmor.security.beta.kubernetes.io/a: runtime/default, container.apparmor.security.beta.kubernetes.io/b: unconfined}`,
			"      containers: [{name: a, image: \"${CONTAINER_IMAGE}\"}, {name: b, image: \"busybox:1.36\"}]\n"),
			want: []string{`spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/b"]: "unconfined" is refused: it runs container "b" without AppArmor confinement`}},
		{name: "AppArmor profile unconfined in the pod", tmpl: deployment("      securityContext: {appArmorProfile: {type: Unconfined}}\n" + app("")),
			want: []string{`spec.template.spec.securityContext.appArmorProfile.type: "Unconfined" is refused: it runs without AppArmor confinement; use RuntimeDefault (or Localhost with a profile the nodes have), or remove appArmorProfile`}},
		{name: "AppArmor profile unconfined in a container", tmpl: deployment(app("securityContext: {appArmorProfile: {type: Unconfined}}")),
			want: []string{`spec.template.spec.containers[0].securityContext.appArmorProfile.type (container "a"): "Unconfined" is refused: it runs without AppArmor confinement`}},
		{name: "SELinux type in the pod", tmpl: deployment("      securityContext: {seLinuxOptions: {type: spc_t}}\n" + app("")),
			want: []string{`spec.template.spec.securityContext.seLinuxOptions.type: "spc_t" is refused: an SELinux type other than those made for containers (container_t and its kin) can lift the confinement; remove type, the runtime gives containers container_t`}},
		{name: "SELinux type in a container", tmpl: deployment(app("securityContext: {seLinuxOptions: {type: unconfined_t, level: \"s0:c123,c456\"}}")),
			want: []string{`spec.template.spec.containers[0].securityContext.seLinuxOptions.type (container "a"): "unconfined_t" is refused`}},
		{name: "SELinux user and role", tmpl: deployment(app("securityContext: {seLinuxOptions: {user: system_u, role: system_r, type: container_t}}")),
			want: []string{
				`spec.template.spec.containers[0].securityContext.seLinuxOptions.user (container "a"): "system_u" is refused: a custom SELinux user is not allowed; remove user`,
				`spec.template.spec.containers[0].securityContext.seLinuxOptions.role (container "a"): "system_r" is refused: a custom SELinux role is not allowed; remove role`,
			}, problems: 2},
		{name: "proc mount", tmpl: deployment(app("securityContext: {procMount: Unmasked}")),
			want: []string{`spec.template.spec.containers[0].securityContext.procMount (container "a"): "Unmasked" is refused: it exposes the node's /proc; remove procMount`}},
		{name: "pod seccomp unconfined", tmpl: deployment("      securityContext: {seccompProfile: {type: Unconfined}}\n" + app("")),
			want: []string{`spec.template.spec.securityContext.seccompProfile.type: "Unconfined" is refused: it lifts the system-call filter; use RuntimeDefault`}},
		{name: "container seccomp unconfined", tmpl: deployment(app("securityContext: {seccompProfile: {type: Unconfined}}")),
			want: []string{`spec.template.spec.containers[0].securityContext.seccompProfile.type (container "a"): "Unconfined" is refused: it lifts the system-call filter`}},
		{name: "unsafe sysctls", tmpl: deployment("      securityContext: {sysctls: [{name: net.ipv4.tcp_syncookies, value: \"1\"}, {name: kernel.msgmax, value: \"65536\"}, {name: net.core.somaxconn, value: \"1024\"}]}\n" + app("")),
			want: []string{
				`spec.template.spec.securityContext.sysctls[1].name: "kernel.msgmax" is refused: it is not one of the sysctls Pod Security baseline counts as safe (isolated within the pod), so it could change the node for every pod; remove it`,
				`spec.template.spec.securityContext.sysctls[2].name: "net.core.somaxconn" is refused`,
			}, problems: 2},
		{name: "host process in the pod", tmpl: deployment("      securityContext: {windowsOptions: {hostProcess: true}}\n" + app("")),
			want: []string{"spec.template.spec.securityContext.windowsOptions.hostProcess: true is refused: it runs the container as a process of the node; remove it"}},
		{name: "host process in a container", tmpl: deployment(app("securityContext: {windowsOptions: {hostProcess: true}}")),
			want: []string{`spec.template.spec.containers[0].securityContext.windowsOptions.hostProcess (container "a"): true is refused`}},
		{name: "probe of another host", tmpl: deployment(app("readinessProbe: {httpGet: {host: 169.254.169.254, port: 80}}, lifecycle: {preStop: {tcpSocket: {host: node.local, port: 22}}}")),
			want: []string{
				`spec.template.spec.containers[0].readinessProbe.httpGet.host (container "a"): "169.254.169.254" is refused: the kubelet would connect to that host from the node itself; remove host, the pod's own IP is used`,
				`spec.template.spec.containers[0].lifecycle.preStop.tcpSocket.host (container "a"): "node.local" is refused`,
			}, problems: 2},

		// The platform's own rules.
		{name: "privilege escalation", tmpl: deployment(app("securityContext: {allowPrivilegeEscalation: true}")),
			want: []string{`spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation (container "a"): true is refused: a process could gain more privileges than its parent; set allowPrivilegeEscalation: false`}},
		{name: "missing image", tmpl: deployment("      containers: [{name: a}]\n"),
			want: []string{`spec.template.spec.containers[0].image (container "a") is missing: name the image, e.g. ${CONTAINER_IMAGE}`}},
		{name: "image without tag", tmpl: deployment(app("") + "      initContainers: [{name: init, image: busybox}]\n"),
			want: []string{`spec.template.spec.initContainers[0].image (container "init"): "busybox" has no tag (it means latest, which moves): pin a version tag or a digest (@sha256:...), so that a roll back brings the same image back`}},
		{name: "image latest", tmpl: deployment(app("") + "      ephemeralContainers: [{name: debug, image: \"registry.local:5000/debug:latest\"}]\n"),
			want: []string{`spec.template.spec.ephemeralContainers[0].image (container "debug"): "registry.local:5000/debug:latest" uses the moving tag latest`}},
		{name: "invalid image", tmpl: deployment("      containers: [{name: a, image: \"Upper/Case\"}]\n"),
			want: []string{`spec.template.spec.containers[0].image (container "a"): "Upper/Case" is not a valid image reference: use [registry[:port]/]repository[:tag][@sha256:digest]`}},
		{name: "account outside the policy", tmpl: deployment("      serviceAccountName: ops\n" + app("")), policy: Policy{ServiceAccounts: []string{"appmesh-envoy"}},
			want: []string{`spec.template.spec.serviceAccountName: "ops" is refused: pods would run with another workload's permissions; this environment allows the namespace's default ServiceAccount or appmesh-envoy (CANARY_ALLOWED_SERVICE_ACCOUNTS); remove serviceAccountName or use one of those`}},
		{name: "deprecated serviceAccount", tmpl: deployment("      serviceAccount: admin\n" + app("")),
			want: []string{`spec.template.spec.serviceAccount: "admin" is refused`, "the namespace's default ServiceAccount only"}},

		// Baseline and the platform's rules at once, each field once.
		{name: "baseline and platform problems together", tmpl: deployment("      hostNetwork: true\n" +
			"      containers: [{name: a, image: \"registry.local/a\", ports: [{containerPort: 80, hostPort: 80}], securityContext: {privileged: true, allowPrivilegeEscalation: true, capabilities: {add: [SYS_ADMIN, CHOWN]}}}]\n"),
			want: []string{"hostNetwork: true is refused", "ports[0].hostPort", "privileged (container \"a\"): true is refused",
				"allowPrivilegeEscalation (container \"a\"): true is refused", `add[0] (container "a"): "SYS_ADMIN" is refused`, `add[1] (container "a"): "CHOWN" is refused`,
				`"registry.local/a" has no tag`}, problems: 7},

		// Other workloads and Services.
		{name: "StatefulSet hostPath", tmpl: "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: cache}\nspec:\n  selector: {matchLabels: {app: x}}\n  serviceName: cache\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n" +
			app("") + "      volumes: [{name: data, hostPath: {path: /var/lib/cache}}]\n",
			want: []string{`StatefulSet/cache: spec.template.spec.volumes[0] ("data").hostPath is refused`}},
		{name: "Job host network", tmpl: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: smoke}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      hostNetwork: true\n" + app(""),
			want: []string{"Job/smoke: spec.template.spec.hostNetwork: true is refused"}},
		{name: "pod template of the wrong shape", tmpl: deployment(app("securityContext: {privileged: \"yes\"}")),
			want: []string{"Deployment/shop-3: spec.template cannot be read as a pod template: spec.containers.securityContext.privileged has the wrong type (a string): use true or false"}},
		{name: "label of the wrong type", tmpl: strings.Replace(deployment(app("")), "labels: {app: x}}", "labels: {app: x, version: 3}}", 1),
			want: []string{"spec.template cannot be read as a pod template: metadata.labels has the wrong type (a number): use a string (quote the value)"}},
		{name: "unreadable quantity", tmpl: deployment(app("resources: {requests: {cpu: lots}}")),
			want: []string{"spec.template cannot be read as a pod template: ", "give each field the type Kubernetes gives it (kubectl explain pod.spec)"}},
		{name: "ExternalName", tmpl: "apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: example.com}\n",
			want: []string{`Service/ext: spec.type: "ExternalName" is refused: this environment allows Service types ClusterIP (CANARY_ALLOWED_SERVICE_TYPES)`}},
		{name: "LoadBalancer beyond the allowed types", tmpl: "apiVersion: v1\nkind: Service\nmetadata: {name: lb}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n", policy: Policy{ServiceTypes: []string{"NodePort"}},
			want: []string{`Service/lb: spec.type: "LoadBalancer" is refused: this environment allows Service types ClusterIP, NodePort`}},
		{name: "external IPs", tmpl: "apiVersion: v1\nkind: Service\nmetadata: {name: ips}\nspec: {ports: [{port: 80}], externalIPs: [203.0.113.7, 203.0.113.8]}\n",
			want: []string{`Service/ips: spec.externalIPs: "203.0.113.7, 203.0.113.8" is refused: a Service with external IPs takes traffic meant for those addresses from every node; remove externalIPs`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := values("shop", nil)
			if _, err := Open([]byte(c.tmpl), v); err != nil {
				t.Fatalf("Open refuses what only the policy should: %v", err)
			}
			_, err := Admit([]byte(c.tmpl), v, c.policy)
			var terr *Error
			if !errors.As(err, &terr) {
				t.Fatalf("Admit = %v, want *Error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
			want := max(c.problems, 1)
			if len(terr.Problems) != want {
				t.Errorf("%d problems, want %d:\n%v", len(terr.Problems), want, err)
			}
			seen := map[string]bool{}
			for _, p := range terr.Problems {
				if seen[p.Message] {
					t.Errorf("problem reported twice: %s", p.Message)
				}
				seen[p.Message] = true
			}
		})
	}
}

// Every baseline check of the library names the fields it refuses; a check
// a newer library adds fails here until it does.
func TestEveryBaselineCheckNamesItsFields(t *testing.T) {
	for _, c := range policy.DefaultChecks() {
		if c.Level == api.LevelBaseline && locators[c.ID] == nil {
			t.Errorf("baseline check %s has no locator: its problems are reported on the pod spec, in the library's words", c.ID)
		}
	}
}

// A failed check whose fields are not located is still refused, in the
// library's words.
func TestCheckReportsAnUnlocatedBaselineFailure(t *testing.T) {
	for _, id := range []policy.CheckID{policy.CheckPrivileged().ID, policy.CheckHostNamespaces().ID} {
		locate := locators[id]
		delete(locators, id)
		defer func() { locators[id] = locate }()
	}
	_, err := Admit([]byte(deployment("      hostPID: true\n"+app("securityContext: {privileged: true}"))), values("shop", nil), Policy{})
	var terr *Error
	if !errors.As(err, &terr) || len(terr.Problems) != 2 {
		t.Fatalf("Admit = %v, want 2 problems", err)
	}
	for _, want := range []string{
		`line 1: Deployment/shop-3: spec.template.spec is refused by Pod Security "baseline": privileged (container "a" must not set securityContext.privileged=true); change the pod so that it meets the baseline Pod Security Standard`,
		`spec.template.spec is refused by Pod Security "baseline": host namespaces (hostPID=true)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
}

func TestCheckAcceptsARestrictedPod(t *testing.T) {
	tmpl := deployment(`      serviceAccountName: appmesh-envoy
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      initContainers: [{name: init, image: "busybox:1.36", securityContext: {allowPrivilegeEscalation: false}}]
      containers:
        - name: a
          image: "${CONTAINER_IMAGE}"
          ports: [{containerPort: 80}]
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}
      volumes: [{name: tmp, emptyDir: {}}]
`)
	r, err := Admit([]byte(tmpl), values("shop", nil), Policy{ServiceAccounts: []string{"appmesh-envoy"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(Policy{}); err == nil || !strings.Contains(err.Error(), `"appmesh-envoy" is refused`) {
		t.Errorf("Check without the account = %v", err)
	}
}

// What Pod Security baseline allows passes, and so do the package's
// sample templates.
func TestCheckAcceptsBaselinePods(t *testing.T) {
	cases := []struct{ name, tmpl string }{
		{"plain pod", deployment(app(""))},
		{"digest-pinned sidecar", deployment(app("") + "      initContainers: [{name: init, image: \"busybox@sha256:" + strings.Repeat("a", 64) + "\"}]\n")},
		{"AppArmor runtime default and localhost annotations", annotated(`{container.apparmor.security.beta.kubernetes.io/a: runtime/default, container.apparmor.security.beta.kubernetes.io/b: localhost/shop, example.com/owner: shop}`,
			"      containers: [{name: a, image: \"${CONTAINER_IMAGE}\"}, {name: b, image: \"busybox:1.36\"}]\n")},
		{"AppArmor profile types", deployment("      securityContext: {appArmorProfile: {type: RuntimeDefault}}\n" + app("securityContext: {appArmorProfile: {type: Localhost, localhostProfile: shop}}"))},
		{"SELinux container types and level", deployment("      securityContext: {seLinuxOptions: {type: container_t, level: \"s0:c1,c2\"}}\n" +
			"      initContainers: [{name: init, image: \"busybox:1.36\", securityContext: {seLinuxOptions: {type: container_init_t}}}]\n" + app("securityContext: {seLinuxOptions: {type: container_engine_t}}"))},
		{"safe sysctls", deployment("      securityContext: {sysctls: [{name: net.ipv4.ip_local_port_range, value: \"1024 65535\"}, {name: net.ipv4.tcp_keepalive_time, value: \"600\"}]}\n" + app(""))},
		{"seccomp localhost", deployment(app("securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/shop.json}}"))},
		{"default proc mount", deployment(app("securityContext: {procMount: Default}"))},
		{"unmasked proc mount in a user namespace", deployment("      hostUsers: false\n" + app("securityContext: {procMount: Unmasked}"))},
		{"host port 0 and host namespaces false", deployment("      hostNetwork: false\n      hostPID: false\n      hostIPC: false\n" + app("ports: [{containerPort: 80, hostPort: 0}], securityContext: {privileged: false, windowsOptions: {hostProcess: false}}"))},
		{"probes of the pod itself", deployment(app("readinessProbe: {httpGet: {path: /readyz, port: 80}}, livenessProbe: {tcpSocket: {port: 80}}, lifecycle: {preStop: {httpGet: {path: /stop, port: 80}}}"))},
		{"Job", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: smoke}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n" + app("securityContext: {allowPrivilegeEscalation: false}")},
		{"testdata gatewayapi.yml", string(read(t, "gatewayapi.yml"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Admit([]byte(c.tmpl), values("shop", nil), Policy{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("testdata appmesh.yml", func(t *testing.T) {
		if _, err := Admit(read(t, "appmesh.yml"), values("yelb-appserver", nil), Policy{ServiceAccounts: []string{"appmesh-envoy"}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(" appmesh-envoy, ,metrics ", "LoadBalancer")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.ServiceAccounts, "|") != "appmesh-envoy|metrics" || strings.Join(p.ServiceTypes, "|") != "LoadBalancer" {
		t.Errorf("policy %+v", p)
	}
	if _, err := ParsePolicy("Bad_Name", "Ingress"); err == nil || !strings.Contains(err.Error(), `"Bad_Name" is not a ServiceAccount name`) || !strings.Contains(err.Error(), `"Ingress" is not a Service type`) {
		t.Errorf("ParsePolicy of bad lists = %v", err)
	}
	if p, err := ParsePolicy("", ""); err != nil || len(p.ServiceAccounts)+len(p.ServiceTypes) != 0 {
		t.Errorf("empty lists: %+v, %v", p, err)
	}
}
