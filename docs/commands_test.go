package docs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-canary/platform/internal/testcluster"
)

// A command block a reader may run offline carries a marker on the line right
// before its fence, so the test below runs it exactly as written:
//
//	<!-- runnable -->            in the repository root
//	<!-- runnable: cluster -->   with a local control plane that has the
//	                             namespace yelb; ~/.kube/config and KUBECONFIG
//	                             point at it
//	<!-- runnable: copy -->      in a temporary copy of the repository, for a
//	                             command that may rewrite tracked files
//
// Options combine: <!-- runnable: cluster, copy -->.
var markerRe = regexp.MustCompile(`^<!-- runnable(?:: ([a-z, ]+))? -->$`)

// notRun are the command blocks deliberately left unmarked, each found by a
// line it contains, with the reason it cannot run here.
var notRun = []struct{ page, contains, why string }{
	{"../README.md", "make up ", "deploys to AWS; make test runs every test, this package included, for most of an hour"},
	{"../README.md", "aws eks update-kubeconfig", "needs the deployed stack and AWS credentials for its EKS cluster"},
	{"operations.md", "watch yelb-appserver --next --timeout 30m", "waits for the next rollout, which only a pipeline starts"},
	{"operations.md", "canaryctl dashboard -A --addr 127.0.0.1:9000", "serves the dashboard until Ctrl-C"},
	{"operations.md", "--allow-remote --host ops-host.internal", "serves the dashboard until Ctrl-C"},
	{"operations.md", "build/bin/canary-run --kubeconfig", "reads CloudWatch with AWS credentials and runs a whole rollout, minutes long"},
}

// blockTimeout bounds one block; a cold `make tools` builds the Kubernetes
// client libraries, which takes minutes on two cores.
const blockTimeout = 5 * time.Minute

// plane is started only when a block needs a cluster.
var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

type block struct {
	page    string // relative to this folder
	line    int    // of the opening fence, counted from 1
	lang    string // the fence's first word
	body    string // without the fences and the fence's indentation
	marked  bool
	cluster bool // needs the local control plane
	inCopy  bool // runs in a copy of the repository
}

// where names the block's page from the repository root.
func (b block) where() string { return filepath.Join("docs", b.page) }

// shellLangs are the fence languages whose blocks a reader would type into a shell.
var shellLangs = []string{"sh", "bash", "shell", "console", ""}

// parseBlocks finds the fenced blocks of a page and their markers. A marker
// that is malformed, not right before a fence, or on a block that is not sh
// or bash is a problem, as is a fence that never closes.
func parseBlocks(page, text string) ([]block, []string) {
	var blocks []block
	var problems []string
	lines := strings.Split(text, "\n")
	marker := 0 // line of a marker awaiting its fence
	var cluster, inCopy bool
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if strings.HasPrefix(trimmed, "<!-- runnable") {
			m := markerRe.FindStringSubmatch(trimmed)
			if m == nil {
				problems = append(problems, fmt.Sprintf("%s:%d: marker %q: write <!-- runnable --> or <!-- runnable: cluster, copy -->", page, i+1, trimmed))
				continue
			}
			marker, cluster, inCopy = i+1, false, false
			for opt := range strings.SplitSeq(m[1], ",") {
				switch opt = strings.TrimSpace(opt); opt {
				case "":
				case "cluster":
					cluster = true
				case "copy":
					inCopy = true
				default:
					problems = append(problems, fmt.Sprintf("%s:%d: marker option %q is not known: use cluster or copy", page, i+1, opt))
				}
			}
			continue
		}
		if !strings.HasPrefix(trimmed, "```") {
			if marker > 0 {
				problems = append(problems, fmt.Sprintf("%s:%d: the runnable marker is not right before a fence: move it to the line above the ```sh", page, marker))
				marker = 0
			}
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		b := block{page: page, line: i + 1, marked: marker > 0, cluster: cluster, inCopy: inCopy}
		if fields := strings.Fields(strings.TrimPrefix(trimmed, "```")); len(fields) > 0 {
			b.lang = fields[0]
		}
		marker = 0
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			problems = append(problems, fmt.Sprintf("%s:%d: the fence never closes: end the block with ```", page, b.line))
			break
		}
		var body strings.Builder
		for _, l := range lines[i+1 : end] {
			body.WriteString(strings.TrimPrefix(l, strings.Repeat(" ", min(indent, len(l)-len(strings.TrimLeft(l, " "))))))
			body.WriteString("\n")
		}
		b.body = body.String()
		if b.marked && b.lang != "sh" && b.lang != "bash" {
			problems = append(problems, fmt.Sprintf("%s:%d: a %q block is marked runnable: only sh and bash blocks run", page, b.line, b.lang))
			b.marked = false
		}
		blocks = append(blocks, b)
		i = end
	}
	if marker > 0 {
		problems = append(problems, fmt.Sprintf("%s:%d: the runnable marker is not right before a fence: move it to the line above the ```sh", page, marker))
	}
	return blocks, problems
}

// runnableWords start the lines that look like a command of this repository.
var runnableWords = []string{"make", "go", "jq", "canaryctl", "canary-run"}

// looksRunnable returns the first line of a shell block that starts with a
// command of this repository, or "" when none does. Continuation lines and
// comments are skipped.
func looksRunnable(body string) string {
	continued := false
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		wasContinued := continued
		continued = strings.HasSuffix(line, "\\")
		if wasContinued || line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		first, _, _ := strings.Cut(line, " ")
		if slices.Contains(runnableWords, first) || strings.HasPrefix(first, "build/bin/") || strings.HasPrefix(first, "scripts/") {
			return line
		}
	}
	return ""
}

// allBlocks reads every page's blocks and reports the pages' marker problems.
func allBlocks(t *testing.T) []block {
	t.Helper()
	var blocks []block
	for _, page := range docs {
		raw, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		b, problems := parseBlocks(page, string(raw))
		for _, p := range problems {
			t.Error(p)
		}
		blocks = append(blocks, b...)
	}
	return blocks
}

func TestDocCommands(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := repoFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	// The blocks read the tree in other processes, which go test's result
	// cache does not see: stat every file so that a change reruns them.
	for _, name := range files {
		_, _ = os.Stat(filepath.Join(root, name))
	}
	home, copyRoot := t.TempDir(), t.TempDir()
	env := blockEnv(t, home)
	var copyOnce sync.Once
	var copyErr error
	ran := 0
	for _, b := range allBlocks(t) {
		if !b.marked {
			continue
		}
		ran++
		t.Run(fmt.Sprintf("%s:%d", b.where(), b.line), func(t *testing.T) {
			dir, vars := root, env
			if b.inCopy {
				copyOnce.Do(func() { copyErr = copyRepo(root, copyRoot, files) })
				if copyErr != nil {
					t.Fatalf("copy the repository: %v", copyErr)
				}
				dir = copyRoot
			}
			if b.cluster {
				vars = append(slices.Clone(env), "KUBECONFIG="+clusterKubeconfig(t, home))
			}
			out, err := runBlock(dir, vars, b.body)
			if err != nil {
				t.Errorf("%s:%d: the block fails as written (%v):\n%s--- output\n%s", b.where(), b.line, err, b.body, out)
			}
		})
	}
	if ran == 0 {
		t.Fatal("no block is marked runnable: the markers are gone or not recognised")
	}
}

func TestUnmarkedCommands(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if !slices.Contains(docs, p) {
			t.Errorf("%s is not in the docs list of docs_test.go: add it so its links and commands are checked", p)
		}
	}
	matched := make([]int, len(notRun))
	for _, b := range allBlocks(t) {
		if !slices.Contains(shellLangs, b.lang) || b.marked {
			continue
		}
		listed := false
		for i, n := range notRun {
			if n.page == b.page && strings.Contains(b.body, n.contains) {
				matched[i]++
				listed = true
				t.Logf("%s:%d is not run: %s", b.where(), b.line, n.why)
			}
		}
		if line := looksRunnable(b.body); line != "" && !listed {
			t.Errorf("%s:%d: the block runs %q but is neither marked <!-- runnable --> nor listed in notRun: mark it, or list it with the reason it cannot run here", b.where(), b.line, line)
		}
	}
	for i, n := range notRun {
		if matched[i] != 1 {
			t.Errorf("notRun entry %q in %s matches %d unmarked blocks, want 1: update or remove it", n.contains, block{page: n.page}.where(), matched[i])
		}
	}
}

// blockEnv is the test's environment with HOME moved to home, so a block's
// ~ is the test's own; Go keeps its build and module caches.
func blockEnv(t *testing.T, home string) []string {
	t.Helper()
	keep := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOENV"}
	out, err := exec.Command("go", append([]string{"env"}, keep...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	values := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(values) != len(keep) {
		t.Fatalf("go env %s printed %d lines, want %d", strings.Join(keep, " "), len(values), len(keep))
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "HOME" || name == "KUBECONFIG" || name == "PWD" || slices.Contains(keep, name)
	})
	env = append(env, "HOME="+home)
	for i, k := range keep {
		env = append(env, k+"="+values[i])
	}
	return env
}

// clusterKubeconfig starts the local control plane, gives it the namespace
// yelb the documented commands name, and installs its kubeconfig as
// ~/.kube/config of home.
func clusterKubeconfig(t *testing.T, home string) string {
	t.Helper()
	c := plane.Get(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "yelb"}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace yelb: %v", err)
	}
	raw, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, ".kube", "config")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runBlock runs a block with bash -euo pipefail in dir and returns its
// combined output. At the timeout the block's whole process group is killed.
func runBlock(dir string, env []string, body string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), blockTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", body)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %s: %w", blockTimeout, err)
	}
	return string(out), err
}

// repoFiles lists the files git would see under root: tracked and
// untracked, not ignored, relative to root.
func repoFiles(root string) ([]string, error) {
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = root
	out, err := ls.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(exit.Stderr))
		}
		return nil, fmt.Errorf("list the files of %s with git: %w", root, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"), nil
}

// copyRepo copies files from root into dst.
func copyRepo(root, dst string, files []string) error {
	for _, name := range files {
		if err := copyFile(filepath.Join(root, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies one file with its mode; a file listed but deleted in the
// work tree is left out.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

func TestParseBlocks(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []block
		problem string // a part of the only problem expected; "" for none
	}{
		{
			name: "an unmarked block",
			text: "Build:\n\n```sh\nmake tools\n```\n",
			want: []block{{line: 3, lang: "sh", body: "make tools\n"}},
		},
		{
			name: "a marked block",
			text: "<!-- runnable -->\n```sh\njq . a.json\n```\n",
			want: []block{{line: 2, lang: "sh", body: "jq . a.json\n", marked: true}},
		},
		{
			name: "options",
			text: "<!-- runnable: cluster, copy -->\n```bash\nmake x\n```\n",
			want: []block{{line: 2, lang: "bash", body: "make x\n", marked: true, cluster: true, inCopy: true}},
		},
		{
			name: "an indented fence in a list item",
			text: "1. Run\n   ```sh\n   go test ./x\n     --flag\n   ```\n",
			want: []block{{line: 2, lang: "sh", body: "go test ./x\n  --flag\n"}},
		},
		{
			name: "the marker applies to the next block only",
			text: "<!-- runnable -->\n```sh\na\n```\n\n```sh\nb\n```\n",
			want: []block{{line: 2, lang: "sh", body: "a\n", marked: true}, {line: 6, lang: "sh", body: "b\n"}},
		},
		{
			name:    "a blank line between marker and fence",
			text:    "<!-- runnable -->\n\n```sh\nmake x\n```\n",
			want:    []block{{line: 3, lang: "sh", body: "make x\n"}},
			problem: "1: the runnable marker is not right before a fence",
		},
		{
			name:    "a marker at the end",
			text:    "text\n<!-- runnable -->\n",
			problem: "2: the runnable marker is not right before a fence",
		},
		{
			name:    "an unknown option",
			text:    "<!-- runnable: aws -->\n```sh\nmake up\n```\n",
			want:    []block{{line: 2, lang: "sh", body: "make up\n", marked: true}},
			problem: `option "aws" is not known`,
		},
		{
			name:    "a malformed marker",
			text:    "<!-- runnable-->\n```sh\nmake up\n```\n",
			want:    []block{{line: 2, lang: "sh", body: "make up\n"}},
			problem: `marker "<!-- runnable-->"`,
		},
		{
			name:    "a marked json block",
			text:    "<!-- runnable -->\n```json\n{}\n```\n",
			want:    []block{{line: 2, lang: "json", body: "{}\n"}},
			problem: `a "json" block is marked runnable`,
		},
		{
			name:    "a fence that never closes",
			text:    "```sh\nmake tools\n",
			problem: "1: the fence never closes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := parseBlocks("page.md", tt.text)
			for i := range tt.want {
				tt.want[i].page = "page.md"
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("blocks\n got %+v\nwant %+v", got, tt.want)
			}
			switch {
			case tt.problem == "" && len(problems) > 0:
				t.Errorf("problems %q, want none", problems)
			case tt.problem != "" && (len(problems) != 1 || !strings.Contains(problems[0], "page.md:") || !strings.Contains(problems[0], tt.problem)):
				t.Errorf("problems %q, want one naming page.md and containing %q", problems, tt.problem)
			}
		})
	}
}

func TestLooksRunnable(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"make tools   # both commands\n", "make tools   # both commands"},
		{"go test ./docs -run TestStateDiagram -update\n", "go test ./docs -run TestStateDiagram -update"},
		{"build/bin/canaryctl -n yelb status\n", "build/bin/canaryctl -n yelb status"},
		{"scripts/build-control-plane.sh\n", "scripts/build-control-plane.sh"},
		{"canaryctl -n yelb dashboard\n", "canaryctl -n yelb dashboard"},
		{"canary-run --deploy d.json\n", "canary-run --deploy d.json"},
		{"cd microservices/yelb-appserver\njq -f a.jq b.json\n", "jq -f a.jq b.json"},
		{"  jq . a.json\n", "jq . a.json"},
		{"export KUBECONFIG=~/.kube/config\n", ""},
		{"git commit -am x && git push\n", ""},
		{"aws eks update-kubeconfig --name x\n", ""},
		{"ssh -L 8080:127.0.0.1:8080 host canaryctl dashboard\n", ""},
		{"# make tools first\n", ""},
		{"gopher --help\n", ""},
		{"aws s3 cp \\\n  go s3://bucket/\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := looksRunnable(tt.body); got != tt.want {
			t.Errorf("looksRunnable(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestRunBlock(t *testing.T) {
	tests := []struct {
		name, body, out string
		fails           bool
	}{
		{name: "runs in dir with the environment", body: "echo \"$PWD $DOC_VALUE\"\n", out: "/ set\n"},
		{name: "a failing command", body: "false\necho after\n", fails: true},
		{name: "an unset variable", body: "echo \"$DOC_UNSET\"\n", fails: true},
		{name: "a failing command in a pipe", body: "false | cat\n", fails: true},
		{name: "output of a failure", body: "echo to stderr >&2; exit 3\n", out: "to stderr\n", fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runBlock("/", []string{"PATH=" + os.Getenv("PATH"), "DOC_VALUE=set"}, tt.body)
			if (err != nil) != tt.fails {
				t.Errorf("error %v, want failure %v (output %q)", err, tt.fails, out)
			}
			if tt.out != "" && out != tt.out {
				t.Errorf("output %q, want %q", out, tt.out)
			}
		})
	}
}
