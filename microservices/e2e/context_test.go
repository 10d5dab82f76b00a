package e2e

import (
	"bufio"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerContext copies the files of a service folder that its .dockerignore
// lets into the image build (last matching rule wins, as in Docker).
func dockerContext(t *testing.T, service string) string {
	t.Helper()
	src := filepath.Join(microservices(t), service)
	f, err := os.Open(filepath.Join(src, ".dockerignore"))
	if err != nil {
		t.Fatalf("%s has no .dockerignore: %v", service, err)
	}
	defer f.Close()
	type rule struct {
		pattern string
		include bool
	}
	var rules []rule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := rule{pattern: strings.TrimSuffix(line, "/")}
		if strings.HasPrefix(r.pattern, "!") {
			r.pattern, r.include = r.pattern[1:], true
		}
		rules = append(rules, r)
	}
	matches := func(pattern, rel string) bool {
		if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
			ok, _ := path.Match(rest, path.Base(rel))
			return ok
		}
		for p := rel; p != "."; p = path.Dir(p) {
			if ok, _ := path.Match(pattern, p); ok {
				return true
			}
		}
		return false
	}
	dst := t.TempDir()
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "node_modules/") || strings.HasPrefix(rel, "dist/") {
			return nil // ignored by git: never in the pushed repository
		}
		included := true
		for _, r := range rules {
			if matches(r.pattern, rel) {
				included = r.include
			}
		}
		if !included {
			return nil
		}
		out := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(out, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// Every Dockerfile ends as a non-root user and copies only files its build
// context holds (base images: TestDockerfilesPullNothingFromDockerHub).
func TestDockerfiles(t *testing.T) {
	for _, svc := range []string{"yelb-appserver", "yelb-ui", "yelb-db", "redis-server"} {
		t.Run(svc, func(t *testing.T) {
			ctx := dockerContext(t, svc)
			df, err := os.ReadFile(filepath.Join(microservices(t), svc, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			text := string(df)
			stages := strings.Split(text, "\nFROM ")
			last := stages[len(stages)-1]
			user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(last)
			if user == nil || strings.HasPrefix(user[1], "0") || user[1] == "root" {
				t.Errorf("the final stage does not switch to a non-root user: %v", user)
			}
			for _, m := range regexp.MustCompile(`(?m)^COPY\s+(.+)$`).FindAllStringSubmatch(text, -1) {
				fields := strings.Fields(m[1])
				if strings.HasPrefix(fields[0], "--from=") {
					continue
				}
				var srcs []string
				for _, f := range fields[:len(fields)-1] {
					if !strings.HasPrefix(f, "--") {
						srcs = append(srcs, f)
					}
				}
				for _, s := range srcs {
					if _, err := os.Stat(filepath.Join(ctx, s)); err != nil {
						t.Errorf("COPY %s: not in the build context (check .dockerignore): %v", s, err)
					}
				}
			}
		})
	}
}

// The app server builds for linux/arm64 from its build context alone, with
// the Dockerfile's command, and the result is a static aarch64 binary.
func TestAppServerBuildsFromItsContext(t *testing.T) {
	ctx := dockerContext(t, "yelb-appserver")
	out := filepath.Join(t.TempDir(), "yelb-appserver")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.buildVersion=context-test", "-o", out, "./cmd/yelb-appserver")
	cmd.Dir = ctx
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build from the context: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Fatalf("binary is for %v, want aarch64", f.Machine)
	}
	if f.Section(".interp") != nil {
		t.Fatal("binary is dynamically linked; distroless/static needs a static one")
	}
	info, _ := os.Stat(out)
	t.Logf("yelb-appserver linux/arm64: %d bytes", info.Size())
}

// The UI bundles from its build context alone (package.json, the lock file,
// build.mjs and src/), as the Dockerfile's build stage does.
func TestUIBuildsFromItsContext(t *testing.T) {
	ctx := dockerContext(t, "yelb-ui")
	for _, args := range [][]string{{"ci", "--no-audit", "--no-fund"}, {"run", "build"}} {
		cmd := exec.Command("npm", args...)
		cmd.Dir = ctx
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm %s in the build context: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	html, err := os.ReadFile(filepath.Join(ctx, "dist", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Absolute, so that deep links load it too.
	scripts := regexp.MustCompile(`src="/(assets/main-[A-Z0-9]+\.js)"`).FindStringSubmatch(string(html))
	if scripts == nil {
		t.Fatalf("index.html does not load the fingerprinted bundle by an absolute URL:\n%s", html)
	}
	if strings.Contains(string(html), "http://") || strings.Contains(string(html), "https://") {
		t.Fatal("index.html loads something from another origin")
	}
	bundle, err := os.ReadFile(filepath.Join(ctx, "dist", scripts[1]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(bundle), "chart.js") && !strings.Contains(string(bundle), "Chart") {
		t.Fatal("the bundle does not contain Chart.js")
	}
	t.Logf("yelb-ui bundle %s: %d bytes", scripts[1], len(bundle))
}
