// Command graph prints the resource tree a stack's configuration would
// create, computed offline with Pulumi's mocks (no cloud, no credentials),
// the resource count, and the policy violations found in it. It exits 1 when
// the program fails or a policy is violated.
//
//	go run ./stacks/cmd/graph [-stack dev] [-traffic appmesh|gatewayapi] [-set key=value]... [-dir .] [-flat]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/stacks"
	"github.com/eks-canary/platform/stacks/config"
	"github.com/eks-canary/platform/stacks/offline"
)

func main() {
	// Its own flag set: dependencies register logging flags on the
	// default one, which -h would list.
	fs := flag.NewFlagSet("graph", flag.ExitOnError)
	stack := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml is read")
	trafficLayer := fs.String("traffic", "", "override trafficLayer: "+strings.Join(contract.Routers(), " or "))
	dir := fs.String("dir", ".", "project directory (holds Pulumi.yaml)")
	flat := fs.Bool("flat", false, "print sorted type<TAB>name<TAB>parent lines instead of a tree")
	var sets setFlags
	fs.Var(&sets, "set", "override a configuration key, e.g. -set nodeInstanceType=m7g.large (repeatable)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := run(os.Stdout, *dir, *stack, *trafficLayer, sets, *flat); err != nil {
		fmt.Fprintln(os.Stderr, "graph:", err)
		os.Exit(1)
	}
}

// setFlags collects -set key=value overrides.
type setFlags map[string]string

func (s *setFlags) String() string { return fmt.Sprint(map[string]string(*s)) }

func (s *setFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	if *s == nil {
		*s = setFlags{}
	}
	(*s)[k] = val
	return nil
}

func run(w io.Writer, dir, stack, trafficLayer string, sets setFlags, flat bool) error {
	start := time.Now()
	project, cfg, secrets, err := config.ReadStackFile(dir, stack)
	if err != nil {
		return err
	}
	for k, v := range sets {
		k = config.FullKey(project, k)
		cfg[k] = v
	}
	if trafficLayer != "" {
		cfg[project+":"+config.KeyTrafficLayer] = trafficLayer
	}
	opts := stacks.Options{
		RepoRoot: dir,
		// The graph does not compile the engine: the archive is only a path
		// to the mocks.
		PackageLambda: func(context.Context) (string, error) {
			return filepath.Join(dir, "build", "lambda", "lambda.zip"), nil
		},
	}
	result, err := offline.Run(project, stack, cfg, stacks.Program(opts))
	if err != nil {
		return err
	}

	owned := result.Owned()
	layer := cfg[project+":"+config.KeyTrafficLayer]
	if layer == "" {
		layer = contract.RouterGatewayAPI
	}
	fmt.Fprintf(w, "%s/%s (trafficLayer %s)\n", project, stack, layer)
	if flat {
		// Sorted: resources register in a different order on each run,
		// and flat output is for diffing.
		lines := make([]string, 0, len(owned))
		for _, r := range owned {
			lines = append(lines, fmt.Sprintf("%s\t%s\t%s", r.Type, r.Name, parentName(result, r.Parent)))
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	} else {
		printTree(w, result, stackURN(result), "")
	}

	var components, custom, providers int
	for _, r := range owned {
		switch {
		case strings.HasPrefix(r.Type, "pulumi:providers:"):
			providers++
		case r.Custom:
			custom++
		default:
			components++
		}
	}
	fmt.Fprintf(w, "\n%d resources: %d custom, %d components (remote components count once), %d explicit providers\n",
		len(owned), custom, components, providers)
	for _, k := range secrets {
		fmt.Fprintf(w, "note: %s is encrypted and not read offline\n", k)
	}
	violations := policy.Check(owned)
	if len(violations) == 0 {
		fmt.Fprintln(w, "policy: no violations")
	} else {
		fmt.Fprintf(w, "policy: %d violations\n", len(violations))
		for _, v := range violations {
			fmt.Fprintln(w, "  "+v.String())
		}
	}
	fmt.Fprintf(w, "computed offline in %s\n", time.Since(start).Round(time.Millisecond))
	if len(violations) > 0 {
		return fmt.Errorf("%d policy violations", len(violations))
	}
	return nil
}

func parentName(r *offline.Result, urn string) string {
	for _, res := range r.Resources {
		if res.URN == urn {
			return res.Type + " " + res.Name
		}
	}
	return "(stack)"
}

func printTree(w io.Writer, r *offline.Result, parent, indent string) {
	children := r.Children(parent)
	sort.SliceStable(children, func(i, j int) bool {
		// Components first, then custom resources.
		return !children[i].Custom && children[j].Custom
	})
	for i, c := range children {
		branch, next := "├─ ", "│  "
		if i == len(children)-1 {
			branch, next = "└─ ", "   "
		}
		mark := ""
		if r.Simulated[c.URN] {
			mark = "  (created by the component's provider; stand-in)"
		}
		if held := stackHolds(c); held != "" {
			mark = "  (holds " + held + ")"
		}
		fmt.Fprintf(w, "%s%s%s %s%s\n", indent, branch, c.Type, c.Name, mark)
		printTree(w, r, c.URN, indent+next)
	}
}

// stackURN is the parent that is not itself a recorded resource: the stack.
func stackURN(r *offline.Result) string {
	known := map[string]bool{}
	for _, res := range r.Resources {
		known[res.URN] = true
	}
	for _, res := range r.Resources {
		if res.Parent != "" && !known[res.Parent] {
			return res.Parent
		}
	}
	return ""
}

// stackHolds names the resource types a CloudFormation stack declares: the
// seeded CodeCommit repositories live in one.
func stackHolds(res policy.Resource) string {
	if res.Type != "aws:cloudformation/stack:Stack" {
		return ""
	}
	body, _ := res.Inputs["templateBody"].(string)
	var tmpl struct {
		Resources map[string]struct{ Type string }
	}
	if json.Unmarshal([]byte(body), &tmpl) != nil {
		return ""
	}
	var types []string
	for _, r := range tmpl.Resources {
		types = append(types, r.Type)
	}
	sort.Strings(types)
	return strings.Join(types, ", ")
}
