package template

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
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
// microservice: pods with host access or extra privileges (every pod
// template must meet Pod Security baseline, see podsecurity.go), images a
// roll back could not bring back, Services that take traffic from outside the
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
			checkWorkload(o.Obj.Object, r.image, p, add)
		case o.Obj.GroupVersionKind().Group == "batch" && o.Obj.GetKind() == "Job":
			// A hook's Job runs in the namespace like the workload: the same rules.
			checkWorkload(o.Obj.Object, r.image, p, add)
		case o.Obj.GroupVersionKind().Group == "" && o.Obj.GetKind() == "Service":
			checkService(o.Obj.Object, p, add)
		}
	}
	return problems
}

type addFunc func(format string, args ...any)

// checkWorkload checks the pod template of a Deployment, StatefulSet or
// Job (spec.template) against Pod Security baseline and the platform's own
// rules: one problem for each field at most, in the order of the fields.
func checkWorkload(obj map[string]any, image string, p Policy, add addFunc) {
	const path = "spec.template"
	raw, found, err := unstructured.NestedMap(obj, "spec", "template")
	if !found && err == nil {
		return
	}
	var tmpl corev1.PodTemplateSpec
	if err == nil {
		err = runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl)
	}
	if err != nil {
		add("%s cannot be read as a pod template: %s", path, conversionProblem(raw, err))
		return
	}
	problems := append(checkPodSecurity(&tmpl, path), checkPod(&tmpl.Spec, path+".spec", image, p)...)
	slices.SortStableFunc(problems, func(a, b fieldProblem) int { return comparePaths(a.field, b.field) })
	reported := map[string]bool{}
	for _, fp := range problems {
		if !reported[fp.field] {
			reported[fp.field] = true
			add("%s", fp.message)
		}
	}
}

// conversionProblem says which field of a pod template has a value of the
// wrong type, where encoding/json can tell, or else why it was not read.
func conversionProblem(raw map[string]any, err error) string {
	var typeErr *json.UnmarshalTypeError
	if b, jerr := json.Marshal(raw); jerr == nil && errors.As(json.Unmarshal(b, &corev1.PodTemplateSpec{}), &typeErr) && typeErr.Field != "" {
		given := map[string]string{"string": "a string", "number": "a number", "bool": "a boolean", "array": "a list", "object": "an object"}[typeErr.Value]
		if given == "" {
			given = typeErr.Value
		}
		var want string
		switch typeErr.Type.Kind() {
		case reflect.Bool:
			want = "true or false"
		case reflect.String:
			want = "a string (quote the value)"
		case reflect.Int, reflect.Int32, reflect.Int64:
			want = "a whole number"
		case reflect.Slice:
			want = "a list"
		case reflect.Struct, reflect.Map, reflect.Pointer:
			want = "an object"
		default:
			want = typeErr.Type.String()
		}
		return fmt.Sprintf("%s has the wrong type (%s): use %s", typeErr.Field, given, want)
	}
	return err.Error() + ": give each field the type Kubernetes gives it (kubectl explain pod.spec)"
}

// comparePaths orders field paths as they read, list indexes by number:
// containers[2] before containers[10].
func comparePaths(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			if c := cmp.Compare(len(strings.TrimLeft(a[:da], "0")), len(strings.TrimLeft(b[:db], "0"))); c != 0 {
				return c
			}
			if c := strings.Compare(strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digits is how many decimal digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// checkPod applies the platform's rules that Pod Security baseline does
// not have, or that are stricter than baseline's.
func checkPod(pod *corev1.PodSpec, path string, image string, p Policy) []fieldProblem {
	var problems []fieldProblem
	add := func(field, format string, args ...any) {
		problems = append(problems, fieldProblem{field: field, message: fmt.Sprintf(format, args...)})
	}
	for _, account := range []struct{ field, name string }{
		{"serviceAccountName", pod.ServiceAccountName},
		{"serviceAccount", pod.DeprecatedServiceAccount},
	} {
		sa := account.name
		if sa == "" || sa == "default" || slices.Contains(p.ServiceAccounts, sa) {
			continue
		}
		allowed := "the namespace's default ServiceAccount only"
		if len(p.ServiceAccounts) > 0 {
			allowed = "the namespace's default ServiceAccount or " + strings.Join(p.ServiceAccounts, ", ")
		}
		field := path + "." + account.field
		add(field, "%s: %s is refused: pods would run with another workload's permissions; this environment allows %s (%s); remove %s or use one of those",
			field, spec.QuoteValue(sa), allowed, contract.EnvAllowedServiceAccounts, account.field)
	}
	for _, c := range containers(pod, path) {
		field := c.path + ".image"
		switch ref := c.c.Image; {
		case ref == "":
			add(field, "%s%s is missing: name the image, e.g. ${CONTAINER_IMAGE}", field, c.name)
		case ref == image:
			// deploy.json's container_image: judged there, under its own name.
		default:
			if err := spec.CheckImage(ref); err != nil {
				add(field, "%s%s: %s is not a valid image reference: use [registry[:port]/]repository[:tag][@sha256:digest]", field, c.name, spec.QuoteValue(ref))
			} else if why := spec.ImagePinProblem(ref); why != "" {
				add(field, "%s%s: %s %s: pin a version tag or a digest (@sha256:...), so that a roll back brings the same image back", field, c.name, spec.QuoteValue(ref), why)
			}
		}
		sc := c.c.SecurityContext
		if sc == nil {
			continue
		}
		scPath := c.path + ".securityContext"
		if v := sc.AllowPrivilegeEscalation; v != nil && *v {
			field := scPath + ".allowPrivilegeEscalation"
			add(field, "%s%s: true is refused: a process could gain more privileges than its parent; set allowPrivilegeEscalation: false", field, c.name)
		}
		if sc.Capabilities != nil {
			for k, capability := range sc.Capabilities.Add {
				if !slices.Contains(AllowedCapabilities, normalCapability(capability)) {
					problems = append(problems, capabilityProblem(scPath, c.name, k, capability))
				}
			}
		}
	}
	return problems
}

// normalCapability is a capability's name as Kubernetes writes it: in
// capitals, without CAP_.
func normalCapability(c corev1.Capability) string {
	return strings.TrimPrefix(strings.ToUpper(string(c)), "CAP_")
}

// capabilityProblem refuses securityContext.capabilities.add[k], for the
// platform's rule or for Pod Security baseline's: one message either way.
func capabilityProblem(path, name string, k int, c corev1.Capability) fieldProblem {
	field := fmt.Sprintf("%s.capabilities.add[%d]", path, k)
	if n := normalCapability(c); slices.Contains(AllowedCapabilities, n) {
		return fieldProblem{field, fmt.Sprintf("%s%s: %s is refused: Pod Security matches capabilities by their exact names, in capitals and without CAP_; write %s",
			field, name, spec.QuoteValue(string(c)), n)}
	}
	return fieldProblem{field, fmt.Sprintf("%s%s: %s is refused: templates may add only %s (the App Mesh proxy's NET_ADMIN is injected by the mesh, never written in a template); remove it",
		field, name, spec.QuoteValue(string(c)), strings.Join(AllowedCapabilities, ", "))}
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
