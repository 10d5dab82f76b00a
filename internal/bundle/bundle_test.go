package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// tinyModule is a throwaway main package standing in for the engine.
func tinyModule(t *testing.T, body string) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/tiny\n\ngo 1.22\n", 0o644)
	writeFile(t, filepath.Join(dir, "cmd", "tiny", "main.go"), "package main\n\nfunc main() { println(\""+body+"\") }\n", 0o644)
	return dir
}

func TestBuildLambdaIsReproducible(t *testing.T) {
	mod := tinyModule(t, "hello")
	ctx := context.Background()
	first, err := BuildLambda(ctx, mod, "./cmd/tiny", filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := BuildLambda(ctx, mod, "./cmd/tiny", filepath.Join(t.TempDir(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	if sum(t, first) != sum(t, second) {
		t.Fatalf("two builds of the same source differ: %s vs %s", first, second)
	}

	zr, err := zip.OpenReader(first)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("want exactly one entry named bootstrap, got %v", zr.File)
	}
	f := zr.File[0]
	if got := f.Mode().Perm(); got != 0o755 {
		t.Errorf("bootstrap mode = %o, want 755", got)
	}
	if !f.Modified.Equal(fixedTime) {
		t.Errorf("bootstrap modified = %v, want %v", f.Modified, fixedTime)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	if bin.Machine != elf.EM_AARCH64 {
		t.Errorf("bootstrap machine = %v, want EM_AARCH64", bin.Machine)
	}
	if bin.Section(".symtab") != nil {
		t.Error("bootstrap keeps its symbol table; -ldflags -s was not applied")
	}
}

func TestBuildLambdaChangesWithSource(t *testing.T) {
	ctx := context.Background()
	a, err := BuildLambda(ctx, tinyModule(t, "one"), "./cmd/tiny", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildLambda(ctx, tinyModule(t, "two"), "./cmd/tiny", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if sum(t, a) == sum(t, b) {
		t.Fatal("different sources gave the same zip")
	}
}

func TestBuildLambdaReportsCompilerOutput(t *testing.T) {
	mod := t.TempDir()
	writeFile(t, filepath.Join(mod, "go.mod"), "module example.com/broken\n\ngo 1.22\n", 0o644)
	writeFile(t, filepath.Join(mod, "main.go"), "package main\n\nfunc main() { undefinedCall() }\n", 0o644)
	_, err := BuildLambda(context.Background(), mod, ".", t.TempDir())
	if err == nil {
		t.Fatal("a package that does not compile built without error")
	}
	if !strings.Contains(err.Error(), "undefinedCall") {
		t.Errorf("error does not carry the compiler message: %v", err)
	}
}

func TestZipDirIsDeterministicAndKeepsExecBits(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "specfiles", "build.yml"), "version: 0.2\n", 0o644)
	writeFile(t, filepath.Join(src, "startup.sh"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(src, "Dockerfile"), "FROM scratch\n", 0o600)

	a := filepath.Join(t.TempDir(), "a.zip")
	b := filepath.Join(t.TempDir(), "b.zip")
	if err := ZipDir(context.Background(), src, a); err != nil {
		t.Fatal(err)
	}
	// A later mtime on disk must not change the archive.
	later := fixedTime.AddDate(20, 0, 0)
	if err := os.Chtimes(filepath.Join(src, "Dockerfile"), later, later); err != nil {
		t.Fatal(err)
	}
	if err := ZipDir(context.Background(), src, b); err != nil {
		t.Fatal(err)
	}
	if sum(t, a) != sum(t, b) {
		t.Fatal("zipping the same tree twice gave different bytes")
	}

	zr, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	want := map[string]os.FileMode{"Dockerfile": 0o644, "specfiles/build.yml": 0o644, "startup.sh": 0o755}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if m, ok := want[f.Name]; !ok || f.Mode().Perm() != m {
			t.Errorf("entry %s mode %o, want %o (known: %v)", f.Name, f.Mode().Perm(), m, ok)
		}
	}
	if strings.Join(names, ",") != "Dockerfile,specfiles/build.yml,startup.sh" {
		t.Errorf("entries not in lexical order: %v", names)
	}
}

func TestZipDirRefusesSymlinksAndEmptyDirs(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "real"), "x", 0o644)
	if err := os.Symlink("real", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	err := ZipDir(context.Background(), src, filepath.Join(t.TempDir(), "out.zip"))
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("want a symbolic link error, got %v", err)
	}
	err = ZipDir(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "out.zip"))
	if err == nil || !strings.Contains(err.Error(), "no files") {
		t.Fatalf("want an empty directory error, got %v", err)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
}

func TestSourceFilesFollowGit(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q")
	svc := filepath.Join(repo, "svc")
	writeFile(t, filepath.Join(repo, ".gitignore"), "node_modules/\n", 0o644)
	writeFile(t, filepath.Join(svc, "tracked.txt"), "a", 0o644)
	writeFile(t, filepath.Join(svc, "gone.txt"), "b", 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "init")
	writeFile(t, filepath.Join(svc, "new.txt"), "c", 0o644)
	writeFile(t, filepath.Join(svc, "node_modules", "dep", "index.js"), "d", 0o644)
	if err := os.Symlink("index.js", filepath.Join(svc, "node_modules", "dep", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(svc, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	files, err := SourceFiles(context.Background(), svc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(files, ",") != "new.txt,tracked.txt" {
		t.Fatalf("files = %v, want the tracked and untracked files, without ignored or deleted ones", files)
	}
	if err := ZipDir(context.Background(), svc, filepath.Join(t.TempDir(), "svc.zip")); err != nil {
		t.Fatalf("ignored symbolic links must not fail the archive: %v", err)
	}
}
