// Command gen writes the subset of AWS's service models the checks use
// (internal/awsrules/models/aws-sdk-go-<version>.json): every shape the
// bound input shapes reach, copied unchanged from the api-2.json files that
// github.com/aws/aws-sdk-go ships, with the module's hash and each file's
// sha256. The whole module is 100 MB of models; the subset keeps tests from
// downloading it. Run from the repository root:
//
//	go run ./internal/awsrules/gen
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/eks-canary/platform/internal/awsrules"
)

const (
	module  = "github.com/aws/aws-sdk-go"
	version = "v1.55.8"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	out, err := exec.Command("go", "mod", "download", "-json", module+"@"+version).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var dl struct{ Dir, Sum string }
	if err := json.Unmarshal(out, &dl); err != nil {
		return err
	}
	roots := map[string][]string{}
	for _, b := range awsrules.Bindings {
		roots[b.Service] = append(roots[b.Service], b.Shape)
	}
	models := awsrules.Models{Module: module, Version: version, Sum: dl.Sum, Services: map[string]awsrules.Service{}}
	for svc, shapes := range roots {
		files, err := filepath.Glob(filepath.Join(dl.Dir, "models", "apis", svc, "*", "api-2.json"))
		if err != nil || len(files) != 1 {
			return fmt.Errorf("service %s: want one api-2.json, found %v (%v)", svc, files, err)
		}
		raw, err := os.ReadFile(files[0])
		if err != nil {
			return err
		}
		var full struct {
			Shapes map[string]awsrules.Shape `json:"shapes"`
		}
		if err := json.Unmarshal(raw, &full); err != nil {
			return fmt.Errorf("%s: %w", files[0], err)
		}
		sum := sha256.Sum256(raw)
		rel, _ := filepath.Rel(dl.Dir, files[0])
		subset := map[string]awsrules.Shape{}
		sort.Strings(shapes)
		for _, s := range shapes {
			if err := reach(full.Shapes, s, subset); err != nil {
				return fmt.Errorf("%s: %w", svc, err)
			}
		}
		models.Services[svc] = awsrules.Service{File: filepath.ToSlash(rel), SHA256: hex.EncodeToString(sum[:]), Shapes: subset}
	}
	b, err := json.MarshalIndent(models, "", " ")
	if err != nil {
		return err
	}
	dst := filepath.Join("internal", "awsrules", "models", "aws-sdk-go-"+version+".json")
	return os.WriteFile(dst, append(b, '\n'), 0o644)
}

func reach(all map[string]awsrules.Shape, name string, into map[string]awsrules.Shape) error {
	if _, done := into[name]; done {
		return nil
	}
	s, ok := all[name]
	if !ok {
		return fmt.Errorf("shape %s not in the model", name)
	}
	into[name] = s
	refs := []*awsrules.Member{s.Member, s.Key, s.Value}
	for _, m := range s.Members {
		refs = append(refs, &m)
	}
	for _, r := range refs {
		if r != nil {
			if err := reach(all, r.Shape, into); err != nil {
				return err
			}
		}
	}
	return nil
}
