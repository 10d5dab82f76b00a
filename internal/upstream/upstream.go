// Package upstream locates the upstream files vendored under testdata/upstream
// (the Helm charts the environment installs, with their CRDs) and decodes
// Kubernetes manifests the way the Kubernetes provider's yaml/v2 ConfigGroup
// does, so tests see the objects a deployment would create.
package upstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const modulePath = "github.com/eks-canary/platform"

// Chart folders under testdata/upstream/charts, named <chart>-<version>.
const (
	AppMeshChart           = "appmesh-controller-1.13.3"
	GatewayControllerChart = "aws-gateway-controller-chart-v2.1.3"
	ExternalDNSChart       = "external-dns-1.21.1"
)

// RepoRoot walks up from the working directory (a package folder under
// `go test`, the repository root under `make`) to this module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("locate repository root: %w", err)
	}
	for start := dir; ; {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("locate repository root: no go.mod of module %s above %s", modulePath, start)
		}
		dir = parent
	}
}

func isModuleRoot(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}

// Dir is testdata/upstream in the repository.
func Dir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "upstream"), nil
}

// ChartDir is the vendored chart folder (one of the *Chart constants) under dir.
func ChartDir(dir, chart string) string { return filepath.Join(dir, "charts", chart) }

// CRDFiles are the files of the CustomResourceDefinitions the platform's
// objects use, in a fixed order: App Mesh, the VPC Lattice controller's and
// ExternalDNS's DNSEndpoint (written by the Gateway API controller).
func CRDFiles(dir string) ([]string, error) {
	files := []string{filepath.Join(ChartDir(dir, AppMeshChart), "crds", "crds.yaml")}
	lattice, err := filepath.Glob(filepath.Join(ChartDir(dir, GatewayControllerChart), "crds", "*.yaml"))
	if err != nil {
		return nil, err
	}
	files = append(files, lattice...)
	files = append(files, filepath.Join(ChartDir(dir, ExternalDNSChart), "crds", "dnsendpoints.externaldns.k8s.io.yaml"))
	var missing []string
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(lattice) == 0 {
		missing = append(missing, filepath.Join(ChartDir(dir, GatewayControllerChart), "crds", "*.yaml"))
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("vendored CRDs missing: %s: restore testdata/upstream from git (`git checkout -- testdata/upstream`); "+
			"testdata/upstream/README.md names the upstream repository and commit of each file", strings.Join(missing, ", "))
	}
	return files, nil
}

// Decode splits a multi-document manifest into objects exactly as the
// Kubernetes provider's yaml/v2 ConfigGroup and ConfigFile do
// (provider/pkg/provider/yaml/v2/yaml.go, pulumi-kubernetes v4): a YAML or
// JSON stream decoder, empty documents skipped, List kinds expanded, and
// kind, apiVersion and metadata.name required of every object.
func Decode(text string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(io.NopCloser(strings.NewReader(text)), 128)
	var objs []*unstructured.Unstructured
	for {
		var value map[string]any
		if err := dec.Decode(&value); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(value) == 0 {
			continue
		}
		expanded, err := expand(&unstructured.Unstructured{Object: value})
		if err != nil {
			return nil, err
		}
		objs = append(objs, expanded...)
	}
}

func expand(obj *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	if obj.GetKind() == "" || obj.GetAPIVersion() == "" {
		return nil, fmt.Errorf("object without kind or apiVersion: %v", obj.Object)
	}
	if obj.IsList() {
		var out []*unstructured.Unstructured
		err := obj.EachListItem(func(o runtime.Object) error {
			items, err := expand(o.(*unstructured.Unstructured))
			out = append(out, items...)
			return err
		})
		return out, err
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("%s/%s without metadata.name", obj.GetAPIVersion(), obj.GetKind())
	}
	return []*unstructured.Unstructured{obj}, nil
}

// DecodeFile reads and decodes one manifest file.
func DecodeFile(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	objs, err := Decode(string(b))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return objs, nil
}

// CountKinds counts objects by "apiVersion/kind".
func CountKinds(objs []*unstructured.Unstructured) map[string]int {
	out := map[string]int{}
	for _, o := range objs {
		out[o.GetAPIVersion()+"/"+o.GetKind()]++
	}
	return out
}
