// Package kubecheck proves Kubernetes objects against a real API server:
// every object is server-side applied with dryRun=All and strict field
// validation, so unknown fields, wrong types and schema violations (CRD
// OpenAPI schemas, CEL rules, built-in validation) are reported by the same
// code that would refuse them in a cluster, and nothing is persisted.
package kubecheck

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/upstream"
)

// Object is one Kubernetes object and where it comes from.
type Object struct {
	Source string // e.g. `kubernetes:core/v1:Namespace "traffic-app-namespace"`
	Obj    *unstructured.Unstructured
	// Namespace is where a namespaced object without metadata.namespace
	// goes (a Helm release's namespace); empty means "default".
	Namespace string
}

func (o Object) String() string {
	return fmt.Sprintf("%s %s (from %s)", o.Obj.GetKind(), key(o.Obj), o.Source)
}

func key(u *unstructured.Unstructured) string {
	if u.GetNamespace() != "" {
		return u.GetNamespace() + "/" + u.GetName()
	}
	return u.GetName()
}

// Objects turns the recorded kubernetes:* resources into the objects the
// Kubernetes provider would send: typed and custom resources from their
// inputs, yaml/v2 ConfigGroups decoded as the provider decodes them. Helm
// releases are returned separately (they need rendering).
func Objects(resources []policy.Resource) (objs []Object, releases []policy.Resource, err error) {
	for _, r := range resources {
		src := fmt.Sprintf("%s %q", r.Type, r.Name)
		switch {
		case !strings.HasPrefix(r.Type, "kubernetes:"):
		case r.Type == "kubernetes:helm.sh/v3:Release":
			releases = append(releases, r)
		case r.Type == "kubernetes:yaml/v2:ConfigGroup" || r.Type == "kubernetes:yaml/v2:ConfigFile":
			text, _ := r.Inputs["yaml"].(string)
			if r.Inputs["files"] != nil || r.Inputs["objs"] != nil || r.Inputs["file"] != nil {
				return nil, nil, fmt.Errorf("%s: only inline yaml is supported by the check", src)
			}
			decoded, err := upstream.Decode(text)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", src, err)
			}
			for _, d := range decoded {
				objs = append(objs, Object{Source: src, Obj: d})
			}
		default:
			gv, kind, ok := gvk(r.Type)
			if !ok {
				continue // providers and components
			}
			u := &unstructured.Unstructured{Object: clean(r.Inputs).(map[string]any)}
			u.SetAPIVersion(gv)
			u.SetKind(kind)
			if u.GetName() == "" {
				// The provider's autoname: the logical name and a random suffix.
				u.SetName(strings.ToLower(r.Name) + "-a1b2c3d4")
			}
			objs = append(objs, Object{Source: src, Obj: u})
		}
	}
	return objs, releases, nil
}

// gvk parses "kubernetes:<group>/<version>:<Kind>" ("core" is the legacy group).
func gvk(token string) (apiVersion, kind string, ok bool) {
	parts := strings.Split(token, ":")
	if len(parts) != 3 || !strings.Contains(parts[1], "/") {
		return "", "", false
	}
	gv := strings.TrimPrefix(parts[1], "core/")
	if parts[1] == "yaml/v2" || strings.HasPrefix(parts[1], "helm.sh/") {
		return "", "", false
	}
	return gv, parts[2], true
}

// clean drops unknown (nil) values and empty maps the mocks leave.
func clean(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			if c := clean(e); c != nil {
				out[k] = c
			}
		}
		return out
	case []any:
		var out []any
		for _, e := range t {
			if c := clean(e); c != nil {
				out = append(out, c)
			}
		}
		return out
	}
	return v
}

// Finding is one object the API server refused.
type Finding struct {
	Object Object
	Err    string
}

func (f Finding) String() string { return f.Object.String() + ": " + f.Err }

// Checker applies objects to one API server.
type Checker struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
	// Created are the namespaces the checker created for real because no
	// object declared them.
	Created []string
}

// New connects to the API server.
func New(cfg *rest.Config) (*Checker, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Checker{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}, nil
}

const fieldManager = "canary-checks"

func (c *Checker) apply(ctx context.Context, u *unstructured.Unstructured, defaultNamespace string, dryRun bool) error {
	gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
	if err != nil {
		return err
	}
	m, err := c.mapper.RESTMapping(gv.WithKind(u.GetKind()).GroupKind(), gv.Version)
	if err != nil {
		return fmt.Errorf("the API server serves no %s: %w", u.GetObjectKind().GroupVersionKind(), err)
	}
	body, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force, FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = defaultNamespace
		}
		if ns == "" {
			ns = "default"
		}
		ri = c.dyn.Resource(m.Resource).Namespace(ns)
	} else if u.GetNamespace() != "" {
		return fmt.Errorf("%s is cluster-scoped but sets metadata.namespace %q", u.GetKind(), u.GetNamespace())
	}
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, opts)
	return err
}

// DryRun creates the namespaces the objects live in (those declared among
// them, then any other they name), then applies every object with
// dryRun=All and strict field validation.
func (c *Checker) DryRun(ctx context.Context, objs []Object) ([]Finding, error) {
	declared := map[string]bool{}
	for _, o := range objs {
		if o.Obj.GetKind() == "Namespace" && o.Obj.GetAPIVersion() == "v1" {
			declared[o.Obj.GetName()] = true
		}
	}
	needed := map[string]bool{}
	for _, o := range objs {
		if ns := o.Obj.GetNamespace(); ns != "" {
			needed[ns] = true
		}
		if o.Namespace != "" {
			needed[o.Namespace] = true
		}
	}
	var names []string
	for ns := range needed {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if err := c.apply(ctx, u, "", false); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create namespace %s: %w", ns, err)
		}
		if !declared[ns] {
			c.Created = append(c.Created, ns)
		}
	}
	var out []Finding
	for _, o := range objs {
		if err := c.apply(ctx, o.Obj, o.Namespace, true); err != nil {
			out = append(out, Finding{Object: o, Err: err.Error()})
		}
	}
	return out, nil
}
