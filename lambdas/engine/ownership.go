package engine

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eks-canary/platform/lambdas/hooks/job"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// The trust boundary between microservices. Teams share one namespace, one
// state machine and this engine, and each team writes its own deploy.json
// and template, so both are hostile input, and so is everything read back
// from the cluster that a template could have shaped. Four rules hold it:
//
//   - names: every object of a template is named after its microservice, and
//     none ends like the engine's own objects (status, lock, preview route);
//   - labels: a template sets none of the engine's labels, so a label always
//     says what the engine decided;
//   - owners: the engine writes an object only if it is new or carries the
//     labels the engine gives this microservice's objects (ownedOrNew);
//   - identity: an execution started by a pipeline rolls out that
//     pipeline's microservice only (pipelineExecution).

// templateOwnership lists what in a rendered template would reach beyond its
// microservice.
func templateOwnership(microservice string, open *template.Rendered) []template.Problem {
	var problems []template.Problem
	for _, o := range open.Objects {
		kind, name := o.Obj.GetKind(), o.Obj.GetName()
		add := func(format string, args ...any) {
			problems = append(problems, template.Problem{Line: o.Line(), Object: kind + "/" + name, Message: fmt.Sprintf(format, args...)})
		}
		if name != microservice && !strings.HasPrefix(name, microservice+"-") && !strings.HasPrefix(name, microservice+".") {
			add("metadata.name %s is not a name of microservice %s: every object is named %s or starts with %q, so that no template can name another microservice's objects; use e.g. ${MICROSERVICE_NAME}-config",
				spec.QuoteValue(name), spec.QuoteValue(microservice), microservice, microservice+"-")
		}
		if suffix, whose := reservedName(kind, name); suffix != "" {
			add("metadata.name %s is refused: names ending in %q are the engine's own, for %s; rename the object", spec.QuoteValue(name), suffix, whose)
		}
		for _, key := range slices.Sorted(maps.Keys(o.Obj.GetLabels())) {
			if strings.HasPrefix(key, naming.LabelPrefix) || key == naming.LabelManagedBy {
				add("metadata.labels %s is refused: the engine sets its own labels (%s*, %s) to know which objects are whose; remove the label",
					spec.QuoteValue(key), naming.LabelPrefix, naming.LabelManagedBy)
			}
		}
	}
	return problems
}

// reservedName returns the suffix and the objects it stands for when name
// ends like the names the engine gives its own objects.
func reservedName(kind, name string) (suffix, whose string) {
	switch {
	case strings.HasSuffix(name, naming.LockSuffix):
		return naming.LockSuffix, "rollout locks (Lease <microservice>" + naming.LockSuffix + ")"
	case kind == "ConfigMap" && strings.HasSuffix(name, naming.StatusSuffix):
		return naming.StatusSuffix, "rollout status (ConfigMap <microservice>" + naming.StatusSuffix + ")"
	case kind == "HTTPRoute" && strings.HasSuffix(name, naming.PreviewSuffix):
		return naming.PreviewSuffix, "blue-green preview routes (HTTPRoute <route>" + naming.PreviewSuffix + ")"
	}
	return "", ""
}

// hookJobRules refuses a hook's Job that would run at one rollout only or
// pass for the microservice's own pods. Validate finds a hook's Job in the
// template rendered at version 1, while each rollout renders it at its own
// version: a Job whose name follows ${CANARY_VERSION} is there at version 1
// and at no later rollout, whose hook then fails with the canary deployed.
// The template is rendered at versions 1 and 2 (job.Twin) so that names,
// labels and selectors that follow the version are judged at every version.
func (e *Engine) hookJobRules(s spec.Spec) ([]spec.FieldError, error) {
	tmpl, err := s.Template()
	if err != nil {
		return nil, &Error{Name: statemachine.ErrValidation, Err: err}
	}
	var at [2]*template.Rendered
	for i := range at {
		v := template.Values{Namespace: s.Namespace, Microservice: s.Microservice, Image: s.ContainerImage, Version: i + 1, ServiceDomain: e.ServiceDomain}
		if at[i], err = e.renders.Open(tmpl, v); err != nil {
			return nil, &Error{Name: statemachine.ErrValidation, Err: err}
		}
	}
	jobs := map[string]job.Twin{}
	var others []job.Twin
	for i, o := range at[0].Objects {
		twin := job.Twin{V1: o.Obj, V2: at[1].Objects[i].Obj}
		if job.IsJob(o.Obj) {
			jobs[o.Obj.GetName()] = twin
		} else {
			others = append(others, twin)
		}
	}
	var problems []spec.FieldError
	for i, h := range s.Hooks {
		j, ok := jobs[h.Job]
		if h.Kind != spec.HookJob || !ok {
			continue // checkHooks refuses a Job the template lacks
		}
		field, name := fmt.Sprintf("hooks[%d].job", i), spec.QuoteValue(h.Job)
		add := func(problem, allowed string) {
			problems = append(problems, spec.FieldError{Field: field, Value: name, Problem: problem, Allowed: allowed})
		}
		written := job.Written(j.V1.GetName(), j.V2.GetName())
		if j.V1.GetName() != j.V2.GetName() {
			add(fmt.Sprintf("names the Job %s, whose name follows the version (%s at version 1, %s at version 2): Validate finds it at version 1, but every later rollout renders its own version, finds no Job %s and fails the hook after the canary is deployed",
				written, h.Job, j.V2.GetName(), h.Job),
				fmt.Sprintf("remove ${%s} from the Job's metadata.name (e.g. %s) and name that here: the engine names each run's Job <name>-<version>-<point> itself; give the Job the version in its args or env",
					template.PlaceholderVersion, fixedName(written)))
		}
		for _, p := range job.LabelProblems(j.V1) {
			add("names a Job the API server would refuse when the hook runs: "+p,
				"correct the label in kubernetes_template.yml; an image reference is never a label value: put ${"+template.PlaceholderImage+"} in the Job's containers or env")
		}
		label := fixedName(written)
		if label == s.Microservice {
			label += "-" + h.Name
		}
		for _, sel := range job.Selected(j, others) {
			allowed := "give the Job's pods labels of their own that no Service, VirtualNode or workload of the template selects"
			if sel.Pods["app"] != label {
				allowed += ", e.g. app: " + label
			}
			add(fmt.Sprintf("names a Job whose pods %s would select: its %s matches the Job's pod labels %s (spec.template.metadata.labels), so %s",
				sel.Object, sel.Selector, sel.Labels, sel.Effect), allowed)
		}
	}
	return problems, nil
}

// fixedName is a Job name written with the version, without it.
func fixedName(written string) string {
	name := strings.ReplaceAll(written, "${"+template.PlaceholderVersion+"}", "")
	for strings.Contains(name, "--") {
		name = strings.ReplaceAll(name, "--", "-")
	}
	return strings.Trim(name, "-.")
}

// foreignOwner says whose a live object is when it is not microservice's
// own: another microservice's, or the platform's (made by the environment or
// by hand, without the engine's labels). It returns "" for an object the
// engine may change.
func foreignOwner(live *unstructured.Unstructured, microservice string) string {
	labels := live.GetLabels()
	if naming.Owned(labels, microservice) {
		return ""
	}
	if owner := labels[naming.LabelMicroservice]; owner != "" && labels[naming.LabelManagedBy] == naming.ManagedByValue {
		return fmt.Sprintf("microservice %q", owner)
	}
	return "the platform (it has no canary engine labels: the environment or a person made it)"
}

// foreignObjects reads every object about to be written and lists those
// that exist and belong to someone else, so a rollout refuses them before
// anything is written. The live objects found are returned by position.
func foreignObjects(ctx context.Context, sess *Session, microservice string, objs objects) ([]string, []*unstructured.Unstructured, error) {
	var refusals []string
	live := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		got, err := sess.Kube.Get(ctx, o.obj)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, nil, err
		}
		live[i] = got
		if owner := foreignOwner(got, microservice); owner != "" {
			refusals = append(refusals, fmt.Sprintf("%s %s already exists and belongs to %s: the engine never changes another owner's object; rename it in kubernetes_template.yml",
				o.obj.GetKind(), o.obj.GetName(), owner))
		}
	}
	return refusals, live, nil
}

// ownedOrNew refuses, with nothing written, to write objects that belong to
// someone else; the roll back and recovery paths use it before each write.
func ownedOrNew(ctx context.Context, sess *Session, microservice string, objs objects) error {
	refusals, _, err := foreignObjects(ctx, sess, microservice, objs)
	if err != nil {
		return err
	}
	if len(refusals) > 0 {
		return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("%s: nothing was written:\n  - %s", microservice, strings.Join(refusals, "\n  - "))}
	}
	return nil
}

// checkReadBack runs every rule Validate applies to a template on one read
// back from the cluster (the stable template kept in the status), which a
// planted or edited status could have shaped: a roll back or a recovery
// applies it only if it would pass Validate today.
func (e *Engine) checkReadBack(s spec.Spec, what string) error {
	problems, err := e.templateProblems(s)
	if err == nil && len(problems) > 0 {
		err = &template.Error{Problems: problems}
	}
	if err == nil && s.ContainerImage != "" {
		if why := spec.ImagePinProblem(s.ContainerImage); why != "" {
			err = fmt.Errorf("image %s %s", spec.QuoteValue(s.ContainerImage), why)
		} else if bad := spec.CheckImage(s.ContainerImage); bad != nil {
			err = fmt.Errorf("image %s: %w", spec.QuoteValue(s.ContainerImage), bad)
		}
	}
	if err != nil {
		return &Error{Name: statemachine.ErrValidation, Err: fmt.Errorf("%s: %s read back from the status is refused, so it was not applied: %w; fix or delete the status ConfigMap %s",
			s.Microservice, what, err, naming.StatusConfigMap(s.Microservice))}
	}
	return nil
}

// executionName is the last part of an execution ARN.
func executionName(execution string) string {
	return execution[strings.LastIndexByte(execution, ':')+1:]
}

var uuidSuffix = regexp.MustCompile(`-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// pipelineExecution refuses an execution that the microservice's own
// pipeline did not start. The pipeline's Step Functions action names its
// executions "<ExecutionNamePrefix>-<action execution id>", the prefix being
// the microservice (infra/pipeline), while the build, which a push controls,
// writes deploy.json and so microservice_name: only the name is the
// pipeline's word.
func pipelineExecution(microservice, execution string) error {
	name := executionName(execution)
	loc := uuidSuffix.FindStringIndex(name)
	if loc != nil && name[:loc[0]] == microservice {
		return nil
	}
	return fmt.Errorf("execution %s did not come from the pipeline of microservice %s: its pipeline names executions %q; a deploy.json can only roll out the microservice whose pipeline built it, so nothing was written",
		spec.QuoteValue(name), spec.QuoteValue(microservice), microservice+"-<action execution id>")
}
