package checks

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/upstream"
	"github.com/eks-canary/platform/stacks/offline"
)

const eksImport = "github.com/pulumi/pulumi-eks/sdk/v2/go/eks"

// remoteConstructors are the pulumi-eks constructors whose outputs come
// from the component's provider (the mocks, in tests).
var remoteConstructors = map[string]string{
	"NewCluster":          "eks:index:Cluster",
	"NewManagedNodeGroup": "eks:index:ManagedNodeGroup",
}

// read is one output path the program reads from a remote component.
type read struct {
	pos  string // file:line
	typ  string // the component's type token
	path []any  // output keys and list indexes
}

func (r read) String() string { return fmt.Sprintf("%s reads %s.%s", r.pos, r.typ, joinPath(r.path)) }

func joinPath(p []any) string {
	var s []string
	for _, e := range p {
		s = append(s, fmt.Sprint(e))
	}
	return strings.Join(s, ".")
}

// outputMethods are Output plumbing, not properties.
var outputMethods = map[string]bool{"Elem": true, "ApplyT": true, "URN": true, "ID": true}

// remoteReads finds, in every non-test Go file of infra/ and stacks/ that
// imports pulumi-eks, each chain of property reads on a variable assigned
// from a remote constructor: `cluster.Core.OidcProvider().Arn()` reads
// core.oidcProvider.arn.
func remoteReads(t *testing.T) []read {
	t.Helper()
	root, err := upstream.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var out []read
	for _, dir := range []string{"infra", "stacks"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			alias := ""
			for _, imp := range f.Imports {
				if v, _ := strconv.Unquote(imp.Path.Value); v == eksImport {
					alias = "eks"
					if imp.Name != nil {
						alias = imp.Name.Name
					}
				}
			}
			if alias == "" {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			out = append(out, readsIn(fset, f, alias, rel)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func readsIn(fset *token.FileSet, f *ast.File, alias, file string) []read {
	vars := map[string]string{} // variable -> component type
	ast.Inspect(f, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Rhs) != 1 {
			return true
		}
		call, ok := as.Rhs[0].(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == alias {
				if typ, ok := remoteConstructors[sel.Sel.Name]; ok {
					if id, ok := as.Lhs[0].(*ast.Ident); ok {
						vars[id.Name] = typ
					}
				}
			}
		}
		return true
	})
	var out []read
	visit := func(n ast.Node) bool {
		expr, ok := n.(ast.Expr)
		if !ok {
			return true
		}
		v, p, ok := chain(expr)
		if !ok {
			return true
		}
		typ, remote := vars[v]
		if !remote || len(p) == 0 {
			return true
		}
		out = append(out, read{pos: fmt.Sprintf("%s:%d", file, fset.Position(expr.Pos()).Line), typ: typ, path: p})
		// The chain's own arguments may hold other reads.
		return false
	}
	ast.Inspect(f, visit)
	return out
}

// chain unwinds x.A.B().Index(0).C() into x and [a b 0 c].
func chain(e ast.Expr) (string, []any, bool) {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name, nil, true
	case *ast.SelectorExpr:
		v, p, ok := chain(t.X)
		if !ok {
			return "", nil, false
		}
		name := t.Sel.Name
		if outputMethods[name] || strings.HasPrefix(name, "To") {
			return v, p, ok
		}
		r := []rune(name)
		r[0] = unicode.ToLower(r[0])
		return v, append(p, string(r)), true
	case *ast.CallExpr:
		sel, ok := t.Fun.(*ast.SelectorExpr)
		if !ok {
			return "", nil, false
		}
		if sel.Sel.Name == "Index" && len(t.Args) == 1 {
			v, p, ok := chain(sel.X)
			if !ok {
				return "", nil, false
			}
			return v, append(p, indexOf(t.Args[0])), true
		}
		if sel.Sel.Name == "ApplyT" {
			return chain(sel.X)
		}
		return chain(t.Fun)
	}
	return "", nil, false
}

func indexOf(e ast.Expr) int {
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 {
		e = call.Args[0]
	}
	if lit, ok := e.(*ast.BasicLit); ok {
		n, _ := strconv.Atoi(lit.Value)
		return n
	}
	return 0
}

// unmocked returns the reads whose value the mocks did not set, following
// resource references into the referenced resource's outputs.
func unmocked(res *offline.Result, reads []read) []string {
	byURN := map[string]policy.Resource{}
	for _, r := range res.Resources {
		byURN[r.URN] = r
		// References carry the URN the SDK computed, whose parent chain
		// may differ from the mocks' for stand-ins: key by type and name too.
		byURN[r.Type+"::"+r.Name] = r
	}
	var out []string
	for _, rd := range reads {
		found := false
		for _, r := range res.Resources {
			if r.Type != rd.typ {
				continue
			}
			found = true
			if v := walk(res, byURN, res.Outputs[r.URN], rd.path); v == nil || v == "" {
				out = append(out, fmt.Sprintf("%s, which the mocks leave unset for %s %q (stacks/offline)", rd, r.Type, r.Name))
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s, but no such component was registered", rd))
		}
	}
	return out
}

func walk(res *offline.Result, byURN map[string]policy.Resource, v any, path []any) any {
	for _, p := range path {
		if s, ok := v.(string); ok {
			if ref, isRef := lookupRef(byURN, s); isRef {
				v = res.Outputs[ref.URN]
			} else if strings.HasPrefix(s, "{") {
				var m map[string]any
				if json.Unmarshal([]byte(s), &m) == nil {
					v = m
				}
			}
		}
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func lookupRef(byURN map[string]policy.Resource, s string) (policy.Resource, bool) {
	if r, ok := byURN[s]; ok {
		return r, true
	}
	if !strings.HasPrefix(s, "urn:pulumi:") {
		return policy.Resource{}, false
	}
	i := strings.LastIndex(s, "::")
	typ := s[strings.LastIndex(s[:i], "$")+1 : i]
	if j := strings.LastIndex(s[:i], "::"); j > strings.LastIndex(s[:i], "$") {
		typ = s[j+2 : i]
	}
	r, ok := byURN[typ+"::"+s[i+2:]]
	return r, ok
}

func TestEveryRemoteOutputTheProgramReadsIsMocked(t *testing.T) {
	reads := remoteReads(t)
	if len(reads) < 4 {
		t.Fatalf("found only %v: the scan no longer sees the program's reads", reads)
	}
	eachLayer(t, func(t *testing.T, r *run) {
		if missing := unmocked(r.res, reads); len(missing) > 0 {
			t.Errorf("outputs read but not mocked:\n  %s", strings.Join(missing, "\n  "))
		}
	})
	t.Logf("remote outputs read: %v", reads)
}

// The planted defect: a mock that forgets the OIDC provider.
func TestAnUnmockedOutputIsReported(t *testing.T) {
	r := devStack(t, layers[1])
	cut := &offline.Result{Resources: r.res.Resources, Simulated: r.res.Simulated, Outputs: map[string]map[string]any{}}
	for urn, out := range r.res.Outputs {
		cut.Outputs[urn] = out
	}
	for _, res := range r.res.Resources {
		if res.Type == "eks:index:Cluster" {
			core := map[string]any{}
			for k, v := range cut.Outputs[res.URN]["core"].(map[string]any) {
				if k != "oidcProvider" {
					core[k] = v
				}
			}
			out := map[string]any{}
			for k, v := range cut.Outputs[res.URN] {
				out[k] = v
			}
			out["core"] = core
			cut.Outputs[res.URN] = out
		}
	}
	missing := unmocked(cut, remoteReads(t))
	if len(missing) != 1 || !strings.Contains(missing[0], "eks:index:Cluster.core.oidcProvider.arn") || !strings.Contains(missing[0], `"cluster-eks"`) {
		t.Fatalf("got %v, want the unset core.oidcProvider reported on cluster-eks", missing)
	}
}

// irsaMismatches returns every role trusting an OIDC provider whose ARN
// does not name the issuer its conditions use, or no registered provider.
func irsaMismatches(res *offline.Result) []string {
	providers := map[string]bool{}
	for _, out := range res.Outputs {
		if arn, _ := out["arn"].(string); strings.Contains(arn, ":oidc-provider/") {
			url, _ := out["url"].(string)
			if strings.TrimPrefix(url, "https://") != arn[strings.Index(arn, ":oidc-provider/")+len(":oidc-provider/"):] {
				return []string{fmt.Sprintf("OIDC provider %s is not named after its URL %s", arn, url)}
			}
			providers[arn] = true
		}
	}
	var out []string
	for _, r := range res.Resources {
		if r.Type != "aws:iam/role:Role" {
			continue
		}
		doc, _ := r.Inputs["assumeRolePolicy"].(string)
		var d struct {
			Statement []struct {
				Principal struct{ Federated string }
				Condition map[string]map[string]any
			}
		}
		if json.Unmarshal([]byte(doc), &d) != nil {
			continue
		}
		for _, s := range d.Statement {
			fed := s.Principal.Federated
			if fed == "" {
				continue
			}
			if !providers[fed] {
				out = append(out, fmt.Sprintf("role %q trusts %s, which is not a registered OIDC provider", r.Name, fed))
			}
			issuer := fed[strings.Index(fed, ":oidc-provider/")+len(":oidc-provider/"):]
			for _, cond := range s.Condition {
				for k := range cond {
					if !strings.HasPrefix(k, issuer+":") {
						out = append(out, fmt.Sprintf("role %q trusts %s but its condition key %s names another issuer", r.Name, fed, k))
					}
				}
			}
		}
	}
	return out
}

var otherIssuer = regexp.MustCompile(`(/id/[A-Z0-9]+):`)

func TestOIDCProviderAndIssuerAgree(t *testing.T) {
	r := devStack(t, layers[1]) // App Mesh uses IRSA
	if bad := irsaMismatches(r.res); len(bad) > 0 {
		t.Fatalf("IRSA trust does not match the provider:\n  %s", strings.Join(bad, "\n  "))
	}
	roles := 0
	for _, res := range r.res.ByType("aws:iam/role:Role") {
		if doc, _ := res.Inputs["assumeRolePolicy"].(string); strings.Contains(doc, "Federated") {
			roles++
		}
	}
	if roles == 0 {
		t.Fatal("no IRSA role found on the App Mesh layer")
	}
	// The planted defect: a trust that names another cluster's issuer.
	planted := &offline.Result{Outputs: r.res.Outputs}
	for _, res := range r.res.Resources {
		if doc, _ := res.Inputs["assumeRolePolicy"].(string); strings.Contains(doc, "Federated") {
			res.Inputs = map[string]any{"assumeRolePolicy": otherIssuer.ReplaceAllString(doc, "${1}X:")}
		}
		planted.Resources = append(planted.Resources, res)
	}
	if bad := irsaMismatches(planted); len(bad) == 0 || !strings.Contains(bad[0], "names another issuer") {
		t.Fatalf("a trust naming another issuer: got %v", bad)
	}
}
