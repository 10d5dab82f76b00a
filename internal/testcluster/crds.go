package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

const (
	appMeshCRDs   = "appmesh-controller-1.13.3/crds.yaml"
	latticeCRDDir = "aws-gateway-controller-v2.1.3"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// loadCRDs reads every CustomResourceDefinition the platform's templates use.
// Other kinds in the same files (a GatewayClass, admission policies) are not
// CRDs and are left out: the plane serves schemas, not controllers.
func loadCRDs(crdsDir, gatewayAPICRDs string) ([]*unstructured.Unstructured, error) {
	appMesh := filepath.Join(crdsDir, appMeshCRDs)
	if _, err := os.Stat(appMesh); err != nil {
		return nil, fmt.Errorf("App Mesh CRDs not found at %s: download stable/appmesh-controller/crds/crds.yaml "+
			"from github.com/aws/eks-charts at commit 5239609242f3430be50fb0b714a24d3ef2b47983 to that path, "+
			"or set CANARY_CRDS_DIR to a folder holding %s", appMesh, appMeshCRDs)
	}
	files := []string{appMesh}

	lattice, err := yamlFiles(filepath.Join(crdsDir, latticeCRDDir))
	if err != nil || len(lattice) == 0 {
		return nil, fmt.Errorf("VPC Lattice controller CRDs not found in %s: copy helm/crds/*.yaml "+
			"from github.com/aws/aws-application-networking-k8s at commit 03d6abecad555845b9a78988f7bfedf9085e0bc4 "+
			"to that folder, or set CANARY_CRDS_DIR (read error: %v)", filepath.Join(crdsDir, latticeCRDDir), err)
	}
	files = append(files, lattice...)

	if _, err := os.Stat(gatewayAPICRDs); err != nil {
		return nil, fmt.Errorf("gateway API standard CRDs not found: %w", err)
	}
	files = append(files, gatewayAPICRDs)

	var crds []*unstructured.Unstructured
	for _, file := range files {
		objs, err := decodeYAMLFile(file)
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

func yamlFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

func decodeYAMLFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
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
