package template

import (
	"errors"
	"strings"
	"testing"
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

func TestCheckRefusesWhatReachesBeyondTheMicroservice(t *testing.T) {
	cases := []struct {
		name, tmpl string
		policy     Policy
		want       []string
	}{
		{"privileged", deployment("      containers: [{name: a, image: \"${CONTAINER_IMAGE}\", securityContext: {privileged: true}}]\n"), Policy{},
			[]string{`line 1: Deployment/shop-3: spec.template.spec.containers[0].securityContext.privileged (container "a"): true is refused`}},
		{"capability named with CAP_", deployment("      containers: [{name: a, image: \"${CONTAINER_IMAGE}\", securityContext: {capabilities: {add: [CAP_SYS_ADMIN]}}}]\n"), Policy{},
			[]string{`capabilities.add[0] (container "a"): "CAP_SYS_ADMIN" is refused`}},
		{"proc mount", deployment("      containers: [{name: a, image: \"${CONTAINER_IMAGE}\", securityContext: {procMount: Unmasked}}]\n"), Policy{},
			[]string{`securityContext.procMount (container "a"): "Unmasked" is refused`}},
		{"host process", deployment("      securityContext: {windowsOptions: {hostProcess: true}}\n      containers: [{name: a, image: \"${CONTAINER_IMAGE}\"}]\n"), Policy{},
			[]string{"spec.template.spec.securityContext.windowsOptions.hostProcess: true is refused"}},
		{"missing image", deployment("      containers: [{name: a}]\n"), Policy{},
			[]string{`spec.template.spec.containers[0].image (container "a") is missing`}},
		{"account outside the policy", deployment("      serviceAccountName: ops\n      containers: [{name: a, image: \"${CONTAINER_IMAGE}\"}]\n"), Policy{ServiceAccounts: []string{"appmesh-envoy"}},
			[]string{`serviceAccountName: "ops" is refused`, "default ServiceAccount or appmesh-envoy"}},
		{"ExternalName", "apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: example.com}\n", Policy{},
			[]string{`Service/ext: spec.type: "ExternalName" is refused`}},
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
		})
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
