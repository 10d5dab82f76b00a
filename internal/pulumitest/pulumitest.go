// Package pulumitest is what the component and stack tests share: a run
// under the offline mocks, the awaited value of an output, and table rows of
// {resource, property path, expected value} whose failures name the resource
// and the property.
package pulumitest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"

	"github.com/eks-canary/platform/infra/policy"
	"github.com/eks-canary/platform/internal/bundle"
	"github.com/eks-canary/platform/stacks/offline"
)

// The stack component tests run as, and its region.
const (
	Project = "eks-canary"
	Stack   = "dev"
	Region  = "us-west-2"
)

// Run evaluates body under the offline mocks as Project/Stack in Region.
func Run(body pulumi.RunFunc) (*offline.Result, error) {
	return offline.Run(Project, Stack, map[string]string{"aws:region": Region}, body)
}

// MustRun is Run that fails the test on an error.
func MustRun(t testing.TB, body pulumi.RunFunc) *offline.Result {
	t.Helper()
	res, err := Run(body)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return res
}

// Await is the value the mocks resolved an output to, and whether it is secret.
func Await(ctx *pulumi.Context, o pulumi.Output) (any, bool, error) {
	r, err := internals.UnsafeAwaitOutput(ctx.Context(), o)
	if err != nil {
		return nil, false, fmt.Errorf("await output: %w", err)
	}
	return r.Value, r.Secret, nil
}

// AwaitString is Await for a string output.
func AwaitString(ctx *pulumi.Context, o pulumi.StringOutput) (string, error) {
	v, _, err := Await(ctx, o)
	s, _ := v.(string)
	return s, err
}

// Find is the owned resource of this type and name; it fails the test,
// listing the names of that type, when there is none.
func Find(t testing.TB, res *offline.Result, typ, name string) policy.Resource {
	t.Helper()
	r, ok := res.Find(typ, name)
	if !ok {
		var names []string
		for _, x := range res.ByType(typ) {
			names = append(names, x.Name)
		}
		t.Fatalf("no %s %q (have %v)", typ, name, names)
	}
	return r
}

// Matcher checks a property by something other than equality.
type Matcher interface {
	Match(got any) bool
	String() string
}

type matcher struct {
	what  string
	match func(any) bool
}

func (m matcher) Match(got any) bool { return m.match(got) }
func (m matcher) String() string     { return m.what }

// Absent matches a property that is not set.
var Absent Matcher = matcher{"not set", func(got any) bool { return got == nil }}

// Contains matches a string that contains s.
func Contains(s string) Matcher {
	return matcher{fmt.Sprintf("a string containing %q", s), func(got any) bool {
		g, ok := got.(string)
		return ok && strings.Contains(g, s)
	}}
}

// HasPrefix matches a string that starts with s.
func HasPrefix(s string) Matcher {
	return matcher{fmt.Sprintf("a string starting with %q", s), func(got any) bool {
		g, ok := got.(string)
		return ok && strings.HasPrefix(g, s)
	}}
}

// Len matches a list of n elements.
func Len(n int) Matcher {
	return matcher{fmt.Sprintf("a list of %d", n), func(got any) bool {
		l, ok := got.([]any)
		return ok && len(l) == n
	}}
}

// InJSON matches a string holding a JSON document (a policy, an event
// pattern) whose value at path (see Row) is want, a value or a Matcher.
func InJSON(path string, want any) Matcher {
	return matcher{fmt.Sprintf("a JSON document with %s = %s", path, show(want)), func(got any) bool {
		s, ok := got.(string)
		var doc any
		if !ok || json.Unmarshal([]byte(s), &doc) != nil {
			return false
		}
		v, err := Get(doc, path)
		return err == nil && Equal(v, want)
	}}
}

// Row is one expected property: the resource (type and logical name), the
// path into its recorded inputs, the value or a Matcher, and why it matters.
// Paths are dotted keys with list indexes and quoted keys where a key holds
// a dot: `spec.template.spec.containers[0].image`,
// `metadata.labels["pod-security.kubernetes.io/enforce"]`.
type Row struct {
	Type, Name string
	Path       string
	Want       any
	Why        string
}

// R is a Row, positionally: tables stay one line per property.
func R(typ, name, path string, want any, why string) Row {
	return Row{Type: typ, Name: name, Path: path, Want: want, Why: why}
}

// Check holds every row, reporting each mismatch with the resource, the
// property path, what it is and what was wanted.
func Check(t testing.TB, res *offline.Result, rows []Row) {
	t.Helper()
	for _, r := range rows {
		x, ok := res.Find(r.Type, r.Name)
		if !ok {
			t.Errorf("%s %q: no such resource (%s)", r.Type, r.Name, r.Why)
			continue
		}
		got, err := Get(x.Inputs, r.Path)
		if err != nil {
			t.Errorf("%s %q: %v", r.Type, r.Name, err)
			continue
		}
		if !Equal(got, r.Want) {
			t.Errorf("%s %q: %s = %s, want %s (%s)", r.Type, r.Name, r.Path, show(got), show(r.Want), r.Why)
		}
	}
}

// Equal compares a recorded input with an expected value written in Go
// terms: ints match JSON numbers, []string and map[string]string match JSON
// lists and objects, a Matcher decides for itself.
func Equal(got, want any) bool {
	if m, ok := want.(Matcher); ok {
		return m.Match(got)
	}
	return reflect.DeepEqual(got, normalise(want))
}

func normalise(v any) any {
	switch w := v.(type) {
	case int:
		return float64(w)
	case []string:
		out := make([]any, len(w))
		for i, s := range w {
			out[i] = s
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(w))
		for k, s := range w {
			out[k] = s
		}
		return out
	case []any:
		out := make([]any, len(w))
		for i, e := range w {
			out[i] = normalise(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(w))
		for k, e := range w {
			out[k] = normalise(e)
		}
		return out
	}
	return v
}

func show(v any) string {
	if m, ok := v.(Matcher); ok {
		return m.String()
	}
	if v == nil {
		return "(not set)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

var step = regexp.MustCompile(`^(?:\.?([^.\[\]"]+)|\[(\d+)\]|\["([^"]+)"\])`)

// Get walks a path (see Row) through recorded inputs. A missing key or an
// index past the end gives nil; a path that does not parse is an error.
func Get(v any, path string) (any, error) {
	for rest := path; rest != ""; {
		m := step.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("property path %q does not parse at %q", path, rest)
		}
		rest = rest[len(m[0]):]
		switch {
		case m[2] != "":
			i, _ := strconv.Atoi(m[2])
			l, _ := v.([]any)
			if i >= len(l) {
				return nil, nil
			}
			v = l[i]
		default:
			key := m[1] + m[3]
			obj, _ := v.(map[string]any)
			v = obj[key]
		}
	}
	return v, nil
}

// MustGet is Get for a path known to parse.
func MustGet(v any, path string) any {
	got, err := Get(v, path)
	if err != nil {
		panic(err)
	}
	return got
}

// Str is the string at path, or "".
func Str(v any, path string) string {
	s, _ := MustGet(v, path).(string)
	return s
}

// Strs is the list of strings at path.
func Strs(v any, path string) []string {
	var out []string
	l, _ := MustGet(v, path).([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// DependsOn reports whether from depends on to, directly or through other
// dependencies, parents' dependencies or its provider.
func DependsOn(res *offline.Result, from, to string) bool {
	byURN := map[string]policy.Resource{}
	for _, x := range res.Resources {
		byURN[x.URN] = x
	}
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(u string) bool {
		if u == to {
			return true
		}
		if seen[u] {
			return false
		}
		seen[u] = true
		x := byURN[u]
		next := append([]string(nil), x.Dependencies...)
		if x.Provider != "" {
			next = append(next, ProviderURN(x.Provider))
		}
		return slices.ContainsFunc(next, walk)
	}
	return walk(from)
}

// ProviderURN is the URN of a "<urn>::<id>" provider reference.
func ProviderURN(ref string) string {
	i := strings.LastIndex(ref, "::")
	if i < 0 {
		return ref
	}
	return ref[:i]
}

// Statement is one statement of an IAM policy document.
type Statement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string]any
}

// Statements parses a policy document into its statements by Sid.
func Statements(t testing.TB, doc string) map[string]Statement {
	t.Helper()
	var d struct{ Statement []Statement }
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("policy document: %v\n%s", err, doc)
	}
	out := map[string]Statement{}
	for _, s := range d.Statement {
		out[s.Sid] = s
	}
	return out
}

// RepoFixture writes a repository root holding a buildspec for each
// microservice and an engine zip, so a whole-stack run needs neither the
// sample sources nor a compiled engine. It returns the root and the zip's
// path; the caller removes the root.
func RepoFixture(microservices []string) (root, archive string, err error) {
	root, err = os.MkdirTemp("", "canary-stack-*")
	if err != nil {
		return "", "", err
	}
	for _, svc := range microservices {
		for file, body := range map[string]string{"specfiles/build.yml": "version: 0.2\n", "Dockerfile": "FROM scratch\n"} {
			p := filepath.Join(root, "microservices", svc, file)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return root, "", err
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				return root, "", err
			}
		}
	}
	bin := filepath.Join(root, "bootstrap")
	if err := os.WriteFile(bin, []byte("\x7fELF"), 0o755); err != nil {
		return root, "", err
	}
	archive = filepath.Join(root, "build", "lambda", "lambda.zip")
	if err := bundle.WriteZip(archive, []bundle.Entry{{Name: "bootstrap", Mode: 0o755, Path: bin}}); err != nil {
		return root, "", err
	}
	return root, archive, nil
}
