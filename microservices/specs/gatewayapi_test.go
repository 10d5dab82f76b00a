package specs

import (
	"fmt"
	"os/exec"
	"strings"
)

// gatewayAPIDir is the folder of the sigs.k8s.io/gateway-api module pinned in
// go.mod, whose config/crd/standard holds the CRDs matching the Go types.
func gatewayAPIDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return "", fmt.Errorf("locate sigs.k8s.io/gateway-api: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
