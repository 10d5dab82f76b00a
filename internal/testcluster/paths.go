package testcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/eks-canary/platform/internal/upstream"
)

// Versions and cache layout mirror scripts/build-control-plane.sh, so both
// agree on the folder without the tests running the script.
func defaultBinDir() (string, error) {
	if dir := os.Getenv("CANARY_CONTROL_PLANE_BIN"); dir != "" {
		return dir, nil
	}
	cache := os.Getenv("CONTROL_PLANE_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("locate control plane cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "canary-platform", "control-plane")
	}
	name := fmt.Sprintf("k8s-%s-etcd-%s-kwok-%s",
		envOr("K8S_VERSION", "v1.37.2"), envOr("ETCD_VERSION", "v3.6.8"), envOr("KWOK_VERSION", "v0.8.0"))
	return filepath.Join(cache, name), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var requiredBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// kwokStages are the behaviours the fake node needs: become Ready, keep its
// lease, run pods to Ready, finish completed pods and remove deleted ones.
var kwokStages = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"pod/fast/pod-ready.yaml",
	"pod/fast/pod-complete.yaml",
	"pod/fast/pod-delete.yaml",
}

func checkBinaries(dir string) error {
	var missing []string
	for _, name := range requiredBinaries {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	for _, stage := range kwokStages {
		if _, err := os.Stat(filepath.Join(dir, "kwok-stages", stage)); err != nil {
			missing = append(missing, filepath.Join("kwok-stages", stage))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("control plane binaries missing in %s (%s): run scripts/build-control-plane.sh "+
			"from the repository root (it builds them once into that cache folder and prints it), "+
			"or set CANARY_CONTROL_PLANE_BIN to a folder that holds them", dir, strings.Join(missing, ", "))
	}
	return nil
}

// defaultGatewayAPICRDs is the Gateway API bundle the environment program
// installs, so the tests validate against exactly what production serves.
func defaultGatewayAPICRDs() (string, error) {
	root, err := upstream.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "infra", "traffic", "manifests", "gateway-api-standard-v1.6.3.yaml"), nil
}
