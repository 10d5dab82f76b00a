// Package job turns a Job document of a microservice's template into the
// Job one hook run creates, and judges it from its status. The engine
// applies, polls and removes it; nothing here talks to the cluster.
package job

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels on every hook Job.
const (
	LabelHook  = "canary.eks-canary.dev/hook"
	LabelPoint = "canary.eks-canary.dev/hook-point"
)

// IsJob reports whether obj is a batch/v1 Job: in a template, a Job is a
// hook's document, never applied with the microservice's objects.
func IsJob(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == "batch" && gvk.Kind == "Job"
}

// Name is the Job one hook run creates: the template's name, the canary
// version and the point, so every rollout and point gets its own Job.
// Names longer than 63 characters (the limit of the job-name label the Job
// controller puts on pods) are cut and end in a hash.
func Name(base string, version int, point string) string {
	name := fmt.Sprintf("%s-%d-%s", base, version, strings.ReplaceAll(point, "_", "-"))
	if len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:54], "-") + "-" + hex.EncodeToString(sum[:4])
}

// Prepare copies the template's Job under its run's name, labelled so it can
// be found again, with activeDeadlineSeconds set to the hook's timeout when
// the template sets none, so a hung Job also fails on the cluster's side.
func Prepare(tmpl *unstructured.Unstructured, name string, labels map[string]string, timeout int) *unstructured.Unstructured {
	out := tmpl.DeepCopy()
	out.SetName(name)
	all := out.GetLabels()
	if all == nil {
		all = map[string]string{}
	}
	for k, v := range labels {
		all[k] = v
	}
	out.SetLabels(all)
	if _, found, _ := unstructured.NestedFieldNoCopy(out.Object, "spec", "activeDeadlineSeconds"); !found {
		_ = unstructured.SetNestedField(out.Object, int64(timeout), "spec", "activeDeadlineSeconds")
	}
	return out
}

// Verdict is a Job's state as a hook result.
type Verdict struct {
	Done   bool
	Passed bool
	Output string
}

// Judge reads a live Job's conditions: Complete passes, Failed fails with
// the condition's reason and message (BackoffLimitExceeded,
// DeadlineExceeded); anything else is still running.
func Judge(live *unstructured.Unstructured) Verdict {
	conditions, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["status"] != "True" {
			continue
		}
		reason, _ := cond["reason"].(string)
		message, _ := cond["message"].(string)
		switch cond["type"] {
		case "Complete":
			return Verdict{Done: true, Passed: true, Output: fmt.Sprintf("Job %s succeeded%s", live.GetName(), counts(live))}
		case "Failed":
			return Verdict{Done: true, Output: strings.TrimSpace(fmt.Sprintf("Job %s failed: %s: %s%s", live.GetName(), reason, message, counts(live)))}
		}
	}
	return Verdict{Output: fmt.Sprintf("Job %s is running%s", live.GetName(), counts(live))}
}

func counts(live *unstructured.Unstructured) string {
	var parts []string
	for _, f := range []string{"active", "succeeded", "failed"} {
		if n, found, _ := unstructured.NestedInt64(live.Object, "status", f); found && n > 0 {
			parts = append(parts, f+" "+strconv.FormatInt(n, 10))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (pods " + strings.Join(parts, ", ") + ")"
}

// LabelProblems lists the labels of a template's Job, its own and its
// pods', that the API server would refuse: the Job is created only when
// its hook runs, mid-rollout, so they are refused at Validate instead.
func LabelProblems(obj *unstructured.Unstructured) []string {
	var out []string
	for _, path := range [][]string{{"metadata", "labels"}, {"spec", "template", "metadata", "labels"}} {
		labels, _, err := unstructured.NestedStringMap(obj.Object, path...)
		if err != nil {
			continue // not strings: the template's own checks refuse them
		}
		field := strings.Join(path, ".")
		for _, k := range sortedKeys(labels) {
			if len(validation.IsQualifiedName(k)) > 0 {
				out = append(out, fmt.Sprintf("%s key %q is not a label key: a key is a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, after an optional DNS prefix and '/' (example.com/team)", field, k))
			}
			if v := labels[k]; len(validation.IsValidLabelValue(v)) > 0 {
				out = append(out, fmt.Sprintf("%s %s: %q (%d bytes) is not a label value: a value is empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", field, k, v, len(v)))
			}
		}
	}
	return out
}
