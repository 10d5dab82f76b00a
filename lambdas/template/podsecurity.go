package template

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/eks-canary/platform/lambdas/spec"
)

// Pod templates must meet the Pod Security Standard "baseline" at its
// latest version, judged by the checks of the API server's own PodSecurity
// admission (k8s.io/pod-security-admission), so that what a template may
// hold moves with Kubernetes rather than with a list kept here. The
// platform's own rules (service accounts, pinned images,
// allowPrivilegeEscalation, capabilities beyond NET_BIND_SERVICE) are in
// policy.go.

// baselineLevel is the level and version every pod template is held to.
var baselineLevel = api.LevelVersion{Level: api.LevelBaseline, Version: api.LatestVersion()}

// baseline evaluates every default check of the baseline level; perCheck
// holds one evaluator for each of those checks alone, by check ID, to find
// which fields a failed check refuses.
var baseline, perCheck = newEvaluators()

func newEvaluators() (policy.Evaluator, map[policy.CheckID]policy.Evaluator) {
	checks := policy.DefaultChecks()
	all, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		panic(fmt.Sprintf("pod security checks: %v", err))
	}
	one := map[policy.CheckID]policy.Evaluator{}
	for _, c := range checks {
		if c.Level != api.LevelBaseline {
			continue
		}
		e, err := policy.NewEvaluator([]policy.Check{c}, nil)
		if err != nil {
			panic(fmt.Sprintf("pod security check %s: %v", c.ID, err))
		}
		one[c.ID] = e
	}
	return all, one
}

// fieldProblem is a problem with one field of a pod template; field is
// the field's path, so that no field is reported twice.
type fieldProblem struct {
	field, message string
}

// suspect is a field a failed check may refuse: the message that refuses
// it, and how to take it out of a copy of the template.
type suspect struct {
	fieldProblem
	clear func(*corev1.PodTemplateSpec)
}

// locators list, for each baseline check, the fields of a template it
// looks at, each with the message that refuses it. A check missing here
// (one a newer library adds) is still enforced, with the library's words.
var locators = map[policy.CheckID]func(t *corev1.PodTemplateSpec, path string) []suspect{
	policy.CheckPrivileged().ID:                 privilegedSuspects,
	policy.CheckHostNamespaces().ID:             hostNamespaceSuspects,
	policy.CheckHostPathVolumes().ID:            hostPathSuspects,
	policy.CheckHostPorts().ID:                  hostPortSuspects,
	policy.CheckCapabilitiesBaseline().ID:       capabilitySuspects,
	policy.CheckAppArmorProfile().ID:            appArmorSuspects,
	policy.CheckSELinuxOptions().ID:             seLinuxSuspects,
	policy.CheckProcMountBaseline().ID:          procMountSuspects,
	policy.CheckSeccompBaseline().ID:            seccompSuspects,
	policy.CheckSysctls().ID:                    sysctlSuspects,
	policy.CheckWindowsHostProcess().ID:         hostProcessSuspects,
	policy.CheckHostProbesAndHostLifecycle().ID: probeHostSuspects,
}

// checkPodSecurity evaluates the pod template at path ("spec.template")
// against Pod Security baseline and returns one problem for each field a
// failed check refuses; a failure it cannot pin on fields is reported on
// the pod spec, in the library's words.
func checkPodSecurity(t *corev1.PodTemplateSpec, path string) []fieldProblem {
	failed := failures(baseline.EvaluatePod(baselineLevel, &t.ObjectMeta, &t.Spec))
	if len(failed) == 0 {
		return nil
	}
	// Which check gave each failure: each check alone gives the same result.
	byResult := map[policy.CheckResult]policy.CheckID{}
	for id, e := range perCheck {
		for _, r := range failures(e.EvaluatePod(baselineLevel, &t.ObjectMeta, &t.Spec)) {
			byResult[r] = id
		}
	}
	var problems []fieldProblem
	for _, r := range failed {
		id, known := byResult[r]
		var found []fieldProblem
		if locate := locators[id]; known && locate != nil {
			found = culprits(perCheck[id], t, locate(t, path))
		}
		if len(found) == 0 {
			found = []fieldProblem{{field: path + ".spec (" + r.ForbiddenReason + ")", message: fmt.Sprintf(
				"%s.spec is refused by Pod Security %q: %s; change the pod so that it meets the baseline Pod Security Standard",
				path, api.LevelBaseline, describe(r))}}
		}
		problems = append(problems, found...)
	}
	return problems
}

func failures(results []policy.CheckResult) []policy.CheckResult {
	var out []policy.CheckResult
	for _, r := range results {
		if !r.Allowed {
			out = append(out, r)
		}
	}
	return out
}

func describe(r policy.CheckResult) string {
	if r.ForbiddenDetail == "" {
		return r.ForbiddenReason
	}
	return r.ForbiddenReason + " (" + r.ForbiddenDetail + ")"
}

// culprits returns the suspects the check refuses: with every suspect taken
// out the template passes, and with all but one taken out it fails. Nil if
// the template fails even without any of them.
func culprits(check policy.Evaluator, t *corev1.PodTemplateSpec, suspects []suspect) []fieldProblem {
	failsWith := func(keep int) bool {
		probe := t.DeepCopy()
		for i, s := range suspects {
			if i != keep {
				s.clear(probe)
			}
		}
		dropCleared(probe)
		return len(failures(check.EvaluatePod(baselineLevel, &probe.ObjectMeta, &probe.Spec))) > 0
	}
	if len(suspects) == 0 || failsWith(-1) {
		return nil
	}
	var out []fieldProblem
	for i, s := range suspects {
		if failsWith(i) {
			out = append(out, s.fieldProblem)
		}
	}
	return out
}

// cleared marks a list item taken out of a probe; dropCleared removes the
// marked items once every suspect is out, so that indexes hold meanwhile.
const cleared = "\x00cleared"

func dropCleared(t *corev1.PodTemplateSpec) {
	if sc := t.Spec.SecurityContext; sc != nil {
		sc.Sysctls = slices.DeleteFunc(sc.Sysctls, func(s corev1.Sysctl) bool { return s.Name == cleared })
	}
	for _, c := range containers(&t.Spec, "") {
		if sc := c.in(t).SecurityContext; sc != nil && sc.Capabilities != nil {
			sc.Capabilities.Add = slices.DeleteFunc(sc.Capabilities.Add, func(c corev1.Capability) bool { return c == cleared })
		}
	}
}

// containerRef is one container of a pod spec, of any of its three lists.
type containerRef struct {
	list string // initContainers, containers or ephemeralContainers
	i    int
	path string // the container's path, spec.template.spec.containers[0]
	name string // " (container \"app\")", for messages
	c    *corev1.Container
}

// in returns the same container in a copy of the template.
func (r containerRef) in(t *corev1.PodTemplateSpec) *corev1.Container {
	switch r.list {
	case "initContainers":
		return &t.Spec.InitContainers[r.i]
	case "containers":
		return &t.Spec.Containers[r.i]
	default:
		return (*corev1.Container)(&t.Spec.EphemeralContainers[r.i].EphemeralContainerCommon)
	}
}

// containers lists the pod's containers, init containers first, as the
// template orders the lists.
func containers(pod *corev1.PodSpec, path string) []containerRef {
	var out []containerRef
	ref := func(list string, i int, c *corev1.Container) {
		out = append(out, containerRef{list: list, i: i, path: fmt.Sprintf("%s.%s[%d]", path, list, i), name: containerName(c.Name), c: c})
	}
	for i := range pod.InitContainers {
		ref("initContainers", i, &pod.InitContainers[i])
	}
	for i := range pod.Containers {
		ref("containers", i, &pod.Containers[i])
	}
	for i := range pod.EphemeralContainers {
		ref("ephemeralContainers", i, (*corev1.Container)(&pod.EphemeralContainers[i].EphemeralContainerCommon))
	}
	return out
}

func containerName(name string) string {
	return fmt.Sprintf(" (container %s)", spec.QuoteValue(name))
}

// securityContextRef is the pod's securityContext or a container's, one
// that is set: the fields both have are judged alike.
type securityContextRef struct {
	path, name string // path to the securityContext; name as in containerRef
	// in returns the shared fields of the same securityContext in t, the
	// template or a copy of it.
	in func(t *corev1.PodTemplateSpec) sharedFields
}

// sharedFields are the fields of both the pod's and a container's securityContext.
type sharedFields struct {
	seLinuxOptions  **corev1.SELinuxOptions
	windowsOptions  **corev1.WindowsSecurityContextOptions
	seccompProfile  **corev1.SeccompProfile
	appArmorProfile **corev1.AppArmorProfile
}

func securityContexts(t *corev1.PodTemplateSpec, path string) []securityContextRef {
	var out []securityContextRef
	if t.Spec.SecurityContext != nil {
		out = append(out, securityContextRef{path: path + ".spec.securityContext", in: func(p *corev1.PodTemplateSpec) sharedFields {
			sc := p.Spec.SecurityContext
			return sharedFields{&sc.SELinuxOptions, &sc.WindowsOptions, &sc.SeccompProfile, &sc.AppArmorProfile}
		}})
	}
	for _, c := range containers(&t.Spec, path+".spec") {
		if c.c.SecurityContext != nil {
			out = append(out, securityContextRef{path: c.path + ".securityContext", name: c.name, in: func(p *corev1.PodTemplateSpec) sharedFields {
				sc := c.in(p).SecurityContext
				return sharedFields{&sc.SELinuxOptions, &sc.WindowsOptions, &sc.SeccompProfile, &sc.AppArmorProfile}
			}})
		}
	}
	return out
}

func newSuspect(field, message string, clear func(*corev1.PodTemplateSpec)) suspect {
	return suspect{fieldProblem{field: field, message: message}, clear}
}

func privilegedSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, c := range containers(&t.Spec, path+".spec") {
		if sc := c.c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			field := c.path + ".securityContext.privileged"
			out = append(out, newSuspect(field, fmt.Sprintf("%s%s: true is refused: a privileged container has full access to the node; remove privileged", field, c.name),
				func(p *corev1.PodTemplateSpec) { c.in(p).SecurityContext.Privileged = nil }))
		}
	}
	return out
}

func hostNamespaceSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, ns := range []struct {
		name, why string
		set       *bool
		in        func(*corev1.PodTemplateSpec) *bool
	}{
		{"hostNetwork", "the pod would share the node's network and see its traffic", &t.Spec.HostNetwork, func(p *corev1.PodTemplateSpec) *bool { return &p.Spec.HostNetwork }},
		{"hostPID", "the pod would see and signal every process on the node", &t.Spec.HostPID, func(p *corev1.PodTemplateSpec) *bool { return &p.Spec.HostPID }},
		{"hostIPC", "the pod would share the node's shared memory", &t.Spec.HostIPC, func(p *corev1.PodTemplateSpec) *bool { return &p.Spec.HostIPC }},
	} {
		if *ns.set {
			field := path + ".spec." + ns.name
			out = append(out, newSuspect(field, fmt.Sprintf("%s: true is refused: %s; remove %s", field, ns.why, ns.name),
				func(p *corev1.PodTemplateSpec) { *ns.in(p) = false }))
		}
	}
	return out
}

func hostPathSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for i, v := range t.Spec.Volumes {
		if v.HostPath != nil {
			field := fmt.Sprintf("%s.spec.volumes[%d].hostPath", path, i)
			out = append(out, newSuspect(field, fmt.Sprintf("%s.spec.volumes[%d] (%s).hostPath is refused: it mounts the node's own files into the pod; use emptyDir, a ConfigMap or a StatefulSet volumeClaimTemplate",
				path, i, spec.QuoteValue(v.Name)),
				func(p *corev1.PodTemplateSpec) { p.Spec.Volumes[i].HostPath = nil }))
		}
	}
	return out
}

func hostPortSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, c := range containers(&t.Spec, path+".spec") {
		for j, port := range c.c.Ports {
			if port.HostPort != 0 {
				field := fmt.Sprintf("%s.ports[%d].hostPort", c.path, j)
				out = append(out, newSuspect(field, fmt.Sprintf("%s%s: %d is refused: it binds a port on the node itself; remove hostPort, the Services carry the traffic", field, c.name, port.HostPort),
					func(p *corev1.PodTemplateSpec) { c.in(p).Ports[j].HostPort = 0 }))
			}
		}
	}
	return out
}

func capabilitySuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, c := range containers(&t.Spec, path+".spec") {
		if sc := c.c.SecurityContext; sc != nil && sc.Capabilities != nil {
			for k, capability := range sc.Capabilities.Add {
				problem := capabilityProblem(c.path+".securityContext", c.name, k, capability)
				out = append(out, suspect{problem, func(p *corev1.PodTemplateSpec) { c.in(p).SecurityContext.Capabilities.Add[k] = cleared }})
			}
		}
	}
	return out
}

func appArmorSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, sc := range securityContexts(t, path) {
		profile := *sc.in(t).appArmorProfile
		if profile == nil {
			continue
		}
		field := sc.path + ".appArmorProfile.type"
		why := "it is not an AppArmor profile type Pod Security baseline allows"
		if profile.Type == corev1.AppArmorProfileTypeUnconfined {
			why = "it runs without AppArmor confinement"
		}
		out = append(out, newSuspect(field, fmt.Sprintf("%s%s: %s is refused: %s; use RuntimeDefault (or Localhost with a profile the nodes have), or remove appArmorProfile",
			field, sc.name, spec.QuoteValue(string(profile.Type)), why),
			func(p *corev1.PodTemplateSpec) { *sc.in(p).appArmorProfile = nil }))
	}
	for _, key := range sortedKeys(t.Annotations) {
		value := t.Annotations[key]
		field := fmt.Sprintf("%s.metadata.annotations[%s]", path, strconv.Quote(key))
		whose := "the container"
		if name, ok := strings.CutPrefix(key, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix); ok {
			whose = "container " + spec.QuoteValue(name)
		}
		why := "it is not an AppArmor profile Pod Security baseline allows"
		if value == corev1.DeprecatedAppArmorBetaProfileNameUnconfined {
			why = "it runs " + whose + " without AppArmor confinement"
		}
		out = append(out, newSuspect(field, fmt.Sprintf("%s: %s is refused: %s; remove the annotation (the runtime's default profile applies), or set securityContext.appArmorProfile.type: RuntimeDefault",
			field, spec.QuoteValue(value), why),
			func(p *corev1.PodTemplateSpec) { delete(p.Annotations, key) }))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func seLinuxSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, sc := range securityContexts(t, path) {
		opts := *sc.in(t).seLinuxOptions
		if opts == nil {
			continue
		}
		for _, option := range []struct {
			name, value, why string
			clear            func(*corev1.SELinuxOptions)
		}{
			{"type", opts.Type, "an SELinux type other than those made for containers (container_t and its kin) can lift the confinement; remove type, the runtime gives containers container_t",
				func(o *corev1.SELinuxOptions) { o.Type = "" }},
			{"user", opts.User, "a custom SELinux user is not allowed; remove user", func(o *corev1.SELinuxOptions) { o.User = "" }},
			{"role", opts.Role, "a custom SELinux role is not allowed; remove role", func(o *corev1.SELinuxOptions) { o.Role = "" }},
		} {
			if option.value == "" {
				continue
			}
			field := sc.path + ".seLinuxOptions." + option.name
			out = append(out, newSuspect(field, fmt.Sprintf("%s%s: %s is refused: %s", field, sc.name, spec.QuoteValue(option.value), option.why),
				func(p *corev1.PodTemplateSpec) { option.clear(*sc.in(p).seLinuxOptions) }))
		}
	}
	return out
}

func procMountSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, c := range containers(&t.Spec, path+".spec") {
		if sc := c.c.SecurityContext; sc != nil && sc.ProcMount != nil {
			field := c.path + ".securityContext.procMount"
			out = append(out, newSuspect(field, fmt.Sprintf("%s%s: %s is refused: it exposes the node's /proc; remove procMount", field, c.name, spec.QuoteValue(string(*sc.ProcMount))),
				func(p *corev1.PodTemplateSpec) { c.in(p).SecurityContext.ProcMount = nil }))
		}
	}
	return out
}

func seccompSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, sc := range securityContexts(t, path) {
		profile := *sc.in(t).seccompProfile
		if profile == nil {
			continue
		}
		field := sc.path + ".seccompProfile.type"
		why := "it lifts the system-call filter"
		if profile.Type != corev1.SeccompProfileTypeUnconfined {
			why = "it is not a seccomp profile type Pod Security baseline allows"
		}
		out = append(out, newSuspect(field, fmt.Sprintf("%s%s: %s is refused: %s; use RuntimeDefault", field, sc.name, spec.QuoteValue(string(profile.Type)), why),
			func(p *corev1.PodTemplateSpec) { *sc.in(p).seccompProfile = nil }))
	}
	return out
}

func sysctlSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	if t.Spec.SecurityContext == nil {
		return nil
	}
	for k, s := range t.Spec.SecurityContext.Sysctls {
		field := fmt.Sprintf("%s.spec.securityContext.sysctls[%d].name", path, k)
		out = append(out, newSuspect(field, fmt.Sprintf("%s: %s is refused: it is not one of the sysctls Pod Security baseline counts as safe (isolated within the pod), so it could change the node for every pod; remove it",
			field, spec.QuoteValue(s.Name)),
			func(p *corev1.PodTemplateSpec) { p.Spec.SecurityContext.Sysctls[k].Name = cleared }))
	}
	return out
}

func hostProcessSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, sc := range securityContexts(t, path) {
		win := *sc.in(t).windowsOptions
		if win == nil || win.HostProcess == nil || !*win.HostProcess {
			continue
		}
		field := sc.path + ".windowsOptions.hostProcess"
		out = append(out, newSuspect(field, fmt.Sprintf("%s%s: true is refused: it runs the container as a process of the node; remove it", field, sc.name),
			func(p *corev1.PodTemplateSpec) { (*sc.in(p).windowsOptions).HostProcess = nil }))
	}
	return out
}

func probeHostSuspects(t *corev1.PodTemplateSpec, path string) []suspect {
	var out []suspect
	for _, c := range containers(&t.Spec, path+".spec") {
		// Each handler's host fields, by their path under the container.
		hosts := func(ct *corev1.Container) map[string]*string {
			m := map[string]*string{}
			probe := func(name string, pr *corev1.Probe) {
				if pr == nil {
					return
				}
				if pr.HTTPGet != nil {
					m[name+".httpGet.host"] = &pr.HTTPGet.Host
				}
				if pr.TCPSocket != nil {
					m[name+".tcpSocket.host"] = &pr.TCPSocket.Host
				}
			}
			handler := func(name string, h *corev1.LifecycleHandler) {
				if h == nil {
					return
				}
				if h.HTTPGet != nil {
					m[name+".httpGet.host"] = &h.HTTPGet.Host
				}
				if h.TCPSocket != nil {
					m[name+".tcpSocket.host"] = &h.TCPSocket.Host
				}
			}
			probe("livenessProbe", ct.LivenessProbe)
			probe("readinessProbe", ct.ReadinessProbe)
			probe("startupProbe", ct.StartupProbe)
			if ct.Lifecycle != nil {
				handler("lifecycle.postStart", ct.Lifecycle.PostStart)
				handler("lifecycle.preStop", ct.Lifecycle.PreStop)
			}
			return m
		}
		found := hosts(c.c)
		for _, name := range sortedKeys(found) {
			if *found[name] == "" {
				continue
			}
			field := c.path + "." + name
			out = append(out, newSuspect(field, fmt.Sprintf("%s%s: %s is refused: the kubelet would connect to that host from the node itself; remove host, the pod's own IP is used",
				field, c.name, spec.QuoteValue(*found[name])),
				func(p *corev1.PodTemplateSpec) { *hosts(c.in(p))[name] = "" }))
		}
	}
	return out
}
