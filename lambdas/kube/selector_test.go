package kube

import (
	"strings"
	"testing"
)

func TestWorkloadSelector(t *testing.T) {
	workload := func(apiVersion, kind, selector string) string {
		return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: shop-2, namespace: shop}\nspec:\n  replicas: 1\n" + selector
	}
	for _, tc := range []struct {
		name, yaml string
		want       string // the selector; empty when the workload must be read
		err        string
	}{
		{name: "deployment labels", yaml: workload("apps/v1", "Deployment", `  selector: {matchLabels: {app: shop, version: "2"}}`), want: "app=shop,version=2"},
		{name: "statefulset expressions", yaml: workload("apps/v1", "StatefulSet", "  selector: {matchExpressions: [{key: app, operator: In, values: [shop]}]}"), want: "app in (shop)"},
		{name: "no selector", yaml: workload("apps/v1", "Deployment", "")},
		{name: "empty selector matches every pod", yaml: workload("apps/v1", "Deployment", "  selector: {}")},
		{name: "empty labels match every pod", yaml: workload("apps/v1", "Deployment", "  selector: {matchLabels: {}}")},
		{name: "not a workload", yaml: workload("v1", "Service", "  selector: {app: shop}")},
		{name: "deployment of another group", yaml: workload("extensions/v1beta1", "Deployment", "  selector: {matchLabels: {app: shop}}")},
		{name: "selector not an object", yaml: workload("apps/v1", "Deployment", "  selector: app=shop"), err: "spec.selector"},
		{name: "unknown operator", yaml: workload("apps/v1", "Deployment", "  selector: {matchExpressions: [{key: app, operator: Near, values: [shop]}]}"), err: "spec.selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, ok, err := workloadSelector(obj(t, tc.yaml))
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.want == "":
				if ok {
					t.Errorf("selector %q, want the workload read back", sel)
				}
			case !ok:
				t.Errorf("no selector, want %q", tc.want)
			case sel.String() != tc.want:
				t.Errorf("selector %q, want %q", sel, tc.want)
			}
		})
	}
}
