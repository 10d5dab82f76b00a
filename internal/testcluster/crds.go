package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/eks-canary/platform/internal/upstream"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// loadCRDs reads every CustomResourceDefinition the platform's objects use:
// the vendored charts' CRDs (testdata/upstream) and the Gateway API bundle.
// Other kinds in the same files (admission policies) are not CRDs and are
// left out: the plane serves schemas, not controllers.
func loadCRDs(upstreamDir, gatewayAPICRDs string) ([]*unstructured.Unstructured, error) {
	files, err := upstream.CRDFiles(upstreamDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(gatewayAPICRDs); err != nil {
		return nil, fmt.Errorf("gateway API standard CRDs not found: %w", err)
	}
	files = append(files, gatewayAPICRDs)

	var crds []*unstructured.Unstructured
	for _, file := range files {
		objs, err := upstream.DecodeFile(file)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			if obj.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, obj)
			}
		}
	}
	return crds, nil
}

// installCRDs creates the CRDs and waits until each is Established and its
// resources are served by discovery, so REST mappers built right after see them.
func installCRDs(ctx context.Context, dyn dynamic.Interface, disc discovery.DiscoveryInterface, crds []*unstructured.Unstructured) error {
	// Created concurrently: each create waits on the API server's schema
	// compilation, and one at a time that dominates the start.
	errs := make([]error, len(crds))
	var wg sync.WaitGroup
	for i, crd := range crds {
		wg.Go(func() {
			if _, err := dyn.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				errs[i] = fmt.Errorf("create CRD %s: %w", crd.GetName(), err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, crd := range crds {
		name := crd.GetName()
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			live, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
			for _, c := range conds {
				cm, _ := c.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("wait for CRD %s to be established: %w", name, err)
		}
	}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			if served, _ := vm["served"].(bool); !served {
				continue
			}
			gv := group + "/" + fmt.Sprint(vm["name"])
			err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				list, err := disc.ServerResourcesForGroupVersion(gv)
				if err != nil {
					return false, nil
				}
				for _, r := range list.APIResources {
					if r.Name == plural {
						return true, nil
					}
				}
				return false, nil
			})
			if err != nil {
				return fmt.Errorf("wait for %s %s in discovery: %w", gv, plural, err)
			}
		}
	}
	return nil
}
