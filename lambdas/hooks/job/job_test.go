package job

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestName(t *testing.T) {
	if got := Name("smoke", 12, "pre_traffic"); got != "smoke-12-pre-traffic" {
		t.Errorf("Name = %s", got)
	}
	long := Name(strings.Repeat("a", 60), 12, "confirm_promotion")
	if len(long) > 63 || long == Name(strings.Repeat("a", 60), 13, "confirm_promotion") {
		t.Errorf("long name %s (%d)", long, len(long))
	}
}

func TestPrepareAndJudge(t *testing.T) {
	tmpl := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "smoke", "labels": map[string]any{"team": "web"}}, "spec": map[string]any{}}}
	j := Prepare(tmpl, "smoke-2-pre-traffic", map[string]string{LabelHook: "smoke"}, 300)
	if !IsJob(j) || j.GetName() != "smoke-2-pre-traffic" || j.GetLabels()["team"] != "web" || j.GetLabels()[LabelHook] != "smoke" || tmpl.GetName() != "smoke" {
		t.Errorf("prepared %v", j.Object)
	}
	if d, _, _ := unstructured.NestedInt64(j.Object, "spec", "activeDeadlineSeconds"); d != 300 {
		t.Errorf("activeDeadlineSeconds %d", d)
	}
	if v := Judge(j); v.Done {
		t.Errorf("a Job without conditions is done: %+v", v)
	}
	_ = unstructured.SetNestedSlice(j.Object, []any{map[string]any{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}}, "status", "conditions")
	_ = unstructured.SetNestedField(j.Object, int64(1), "status", "failed")
	if v := Judge(j); !v.Done || v.Passed || v.Output != "Job smoke-2-pre-traffic failed: DeadlineExceeded: Job was active longer than specified deadline (pods failed 1)" {
		t.Errorf("failed Job %+v", v)
	}
	_ = unstructured.SetNestedSlice(j.Object, []any{map[string]any{"type": "Complete", "status": "True"}}, "status", "conditions")
	if v := Judge(j); !v.Done || !v.Passed {
		t.Errorf("complete Job %+v", v)
	}
}
