package template

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/spec"
)

// Policy is what the environment lets templates use beyond the engine's
// defaults. The zero value is the strictest: pods run as the namespace's
// default ServiceAccount and Services are ClusterIP.
type Policy struct {
	// ServiceAccounts pods may name in serviceAccountName, besides
	// "default" (contract.EnvAllowedServiceAccounts).
	ServiceAccounts []string
	// ServiceTypes Services may have besides ClusterIP
	// (contract.EnvAllowedServiceTypes).
	ServiceTypes []string
}

// AllowedCapabilities are the only Linux capabilities a container may add:
// the one Pod Security "restricted" allows. App Mesh's proxy init container
// needs NET_ADMIN, but the mesh's webhook injects it; templates never
// write it.
var AllowedCapabilities = []string{"NET_BIND_SERVICE"}

// Check refuses a rendered template whose objects would reach beyond the
// microservice: pods with host access or extra privileges, images a roll
// back could not bring back, Services that take traffic from outside the
// cluster, pods running as another workload's identity. It returns an
// *Error listing every problem, or nil. Render does not call it: a roll
// back must still render a stable version accepted under older rules, so
// the engine checks once, before a rollout starts.
func (r *Rendered) Check(p Policy) error {
	if problems := r.check(p); len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

func (r *Rendered) check(p Policy) []Problem {
	var problems []Problem
	for _, o := range r.Objects {
		ref := o.Obj.GetKind() + "/" + o.Obj.GetName()
		add := func(format string, args ...any) {
			problems = append(problems, Problem{Line: o.line, Object: ref, Message: fmt.Sprintf(format, args...)})
		}
		switch {
		case o.Obj.GroupVersionKind().Group == "apps" && (o.Obj.GetKind() == "Deployment" || o.Obj.GetKind() == "StatefulSet"):
			pod, _, _ := unstructured.NestedMap(o.Obj.Object, "spec", "template", "spec")
			checkPod(pod, "spec.template.spec", r.image, p, add)
		case o.Obj.GroupVersionKind().Group == "batch" && o.Obj.GetKind() == "Job":
			// A hook's Job runs in the namespace like the workload: the same rules.
			pod, _, _ := unstructured.NestedMap(o.Obj.Object, "spec", "template", "spec")
			checkPod(pod, "spec.template.spec", r.image, p, add)
		case o.Obj.GroupVersionKind().Group == "" && o.Obj.GetKind() == "Service":
			checkService(o.Obj.Object, p, add)
		}
	}
	return problems
}

type addFunc func(format string, args ...any)

func checkPod(pod map[string]any, path string, image string, p Policy, add addFunc) {
	for _, field := range []struct{ name, why string }{
		{"hostNetwork", "the pod would share the node's network and see its traffic"},
		{"hostPID", "the pod would see and signal every process on the node"},
		{"hostIPC", "the pod would share the node's shared memory"},
	} {
		if v, _ := pod[field.name].(bool); v {
			add("%s.%s: true is refused: %s; remove %s", path, field.name, field.why, field.name)
		}
	}
	for _, field := range []string{"serviceAccountName", "serviceAccount"} {
		sa, _ := pod[field].(string)
		if sa == "" || sa == "default" || slices.Contains(p.ServiceAccounts, sa) {
			continue
		}
		allowed := "the namespace's default ServiceAccount only"
		if len(p.ServiceAccounts) > 0 {
			allowed = "the namespace's default ServiceAccount or " + strings.Join(p.ServiceAccounts, ", ")
		}
		add("%s.%s: %s is refused: pods would run with another workload's permissions; this environment allows %s (%s); remove %s or use one of those",
			path, field, spec.QuoteValue(sa), allowed, contract.EnvAllowedServiceAccounts, field)
	}
	volumes, _ := pod["volumes"].([]any)
	for i, v := range volumes {
		vol, _ := v.(map[string]any)
		if _, ok := vol["hostPath"]; ok {
			add("%s.volumes[%d] (%s).hostPath is refused: it mounts the node's own files into the pod; use emptyDir, a ConfigMap or a StatefulSet volumeClaimTemplate",
				path, i, spec.QuoteValue(fmt.Sprint(vol["name"])))
		}
	}
	if sc, _ := pod["securityContext"].(map[string]any); sc != nil {
		checkSecurityContext(sc, path+".securityContext", "", add)
	}
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		containers, _ := pod[list].([]any)
		for i, c := range containers {
			container, _ := c.(map[string]any)
			checkContainer(container, fmt.Sprintf("%s.%s[%d]", path, list, i), image, add)
		}
	}
}

func checkContainer(c map[string]any, path string, image string, add addFunc) {
	name := fmt.Sprintf(" (container %s)", spec.QuoteValue(fmt.Sprint(c["name"])))
	ref, _ := c["image"].(string)
	switch {
	case ref == "":
		add("%s.image%s is missing: name the image, e.g. ${CONTAINER_IMAGE}", path, name)
	case ref == image:
		// deploy.json's container_image: judged there, under its own name.
	default:
		if err := spec.CheckImage(ref); err != nil {
			add("%s.image%s: %s is not a valid image reference: use [registry[:port]/]repository[:tag][@sha256:digest]", path, name, spec.QuoteValue(ref))
		} else if why := spec.ImagePinProblem(ref); why != "" {
			add("%s.image%s: %s %s: pin a version tag or a digest (@sha256:...), so that a roll back brings the same image back", path, name, spec.QuoteValue(ref), why)
		}
	}
	ports, _ := c["ports"].([]any)
	for j, pt := range ports {
		port, _ := pt.(map[string]any)
		if hp, ok := port["hostPort"]; ok && fmt.Sprint(hp) != "0" {
			add("%s.ports[%d].hostPort%s: %v is refused: it binds a port on the node itself; remove hostPort, the Services carry the traffic", path, j, name, hp)
		}
	}
	if sc, _ := c["securityContext"].(map[string]any); sc != nil {
		checkSecurityContext(sc, path+".securityContext", name, add)
	}
}

// checkSecurityContext covers both the pod's and a container's
// securityContext; fields that only one of them has are simply absent in
// the other.
func checkSecurityContext(sc map[string]any, path, name string, add addFunc) {
	if v, _ := sc["privileged"].(bool); v {
		add("%s.privileged%s: true is refused: a privileged container has full access to the node; remove privileged", path, name)
	}
	if v, _ := sc["allowPrivilegeEscalation"].(bool); v {
		add("%s.allowPrivilegeEscalation%s: true is refused: a process could gain more privileges than its parent; set allowPrivilegeEscalation: false", path, name)
	}
	if caps, _ := sc["capabilities"].(map[string]any); caps != nil {
		added, _ := caps["add"].([]any)
		for k, c := range added {
			capability := strings.TrimPrefix(strings.ToUpper(fmt.Sprint(c)), "CAP_")
			if !slices.Contains(AllowedCapabilities, capability) {
				add("%s.capabilities.add[%d]%s: %s is refused: templates may add only %s (the App Mesh proxy's NET_ADMIN is injected by the mesh, never written in a template); remove it",
					path, k, name, spec.QuoteValue(fmt.Sprint(c)), strings.Join(AllowedCapabilities, ", "))
			}
		}
	}
	if seccomp, _ := sc["seccompProfile"].(map[string]any); seccomp != nil && seccomp["type"] == "Unconfined" {
		add("%s.seccompProfile.type%s: \"Unconfined\" is refused: it lifts the system-call filter; use RuntimeDefault", path, name)
	}
	if pm, _ := sc["procMount"].(string); pm == "Unmasked" {
		add("%s.procMount%s: \"Unmasked\" is refused: it exposes the node's /proc; remove procMount", path, name)
	}
	if win, _ := sc["windowsOptions"].(map[string]any); win != nil {
		if v, _ := win["hostProcess"].(bool); v {
			add("%s.windowsOptions.hostProcess%s: true is refused: it runs the container as a process of the node; remove it", path, name)
		}
	}
}

func checkService(svc map[string]any, p Policy, add addFunc) {
	s, _ := svc["spec"].(map[string]any)
	if ips, _ := s["externalIPs"].([]any); len(ips) > 0 {
		list := make([]string, len(ips))
		for i, ip := range ips {
			list[i] = fmt.Sprint(ip)
		}
		add("spec.externalIPs: %s is refused: a Service with external IPs takes traffic meant for those addresses from every node; remove externalIPs",
			spec.QuoteValue(strings.Join(list, ", ")))
	}
	t, _ := s["type"].(string)
	if t == "" || t == "ClusterIP" || slices.Contains(p.ServiceTypes, t) {
		return
	}
	allowed := append([]string{"ClusterIP"}, p.ServiceTypes...)
	add("spec.type: %s is refused: this environment allows Service types %s (%s); the public entry is the environment's own ingress; remove type or use ClusterIP",
		strconv.Quote(t), strings.Join(allowed, ", "), contract.EnvAllowedServiceTypes)
}

// ParsePolicy reads the policy from the environment's comma-separated
// lists (contract.EnvAllowedServiceAccounts, contract.EnvAllowedServiceTypes).
func ParsePolicy(serviceAccounts, serviceTypes string) (Policy, error) {
	var p Policy
	var errs []string
	for _, sa := range splitList(serviceAccounts) {
		if msgs := validation.IsDNS1123Subdomain(sa); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("%s: %q is not a ServiceAccount name: %s", contract.EnvAllowedServiceAccounts, sa, strings.Join(msgs, "; ")))
			continue
		}
		p.ServiceAccounts = append(p.ServiceAccounts, sa)
	}
	for _, t := range splitList(serviceTypes) {
		if !slices.Contains(extraServiceTypes, t) {
			errs = append(errs, fmt.Sprintf("%s: %q is not a Service type: use %s", contract.EnvAllowedServiceTypes, t, strings.Join(extraServiceTypes, ", ")))
			continue
		}
		p.ServiceTypes = append(p.ServiceTypes, t)
	}
	if len(errs) > 0 {
		return Policy{}, fmt.Errorf("template policy: %s", strings.Join(errs, "; "))
	}
	return p, nil
}

// extraServiceTypes are the Service types a policy may allow beyond ClusterIP.
var extraServiceTypes = []string{"NodePort", "LoadBalancer", "ExternalName"}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
