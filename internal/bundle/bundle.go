// Package bundle writes deterministic zip archives: the engine Lambda's
// bootstrap binary and the sample sources that seed the CodeCommit
// repositories. Identical inputs give byte-identical zips, so Pulumi sees the
// same asset hash on every run and never updates a function or an object
// without a source change.
package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fixedTime is the modification time of every entry: a build timestamp
// would change the archive hash on every run.
var fixedTime = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// Entry is one file of an archive.
type Entry struct {
	Name string      // slash-separated path inside the archive
	Mode fs.FileMode // permission bits kept in the archive (0o755 for executables)
	Path string      // file on disk holding the content
}

// WriteZip writes entries, in the given order, to dst. The file appears
// atomically: a half-written zip is never left under dst.
func WriteZip(dst string, entries []Entry) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if err := addEntry(zw, e); err != nil {
			return fmt.Errorf("zip %s: %w", dst, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip %s: %w", dst, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("zip %s: %w", dst, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".zip-*")
	if err != nil {
		return fmt.Errorf("zip %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("zip %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("zip %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("zip %s: %w", dst, err)
	}
	return nil
}

func addEntry(zw *zip.Writer, e Entry) error {
	h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: fixedTime}
	h.SetMode(e.Mode.Perm())
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("add %s: %w", e.Name, err)
	}
	f, err := os.Open(e.Path)
	if err != nil {
		return fmt.Errorf("add %s: %w", e.Name, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("add %s from %s: %w", e.Name, e.Path, err)
	}
	return nil
}

// ZipDir archives the files of srcDir (see SourceFiles), with paths relative
// to srcDir, in lexical order. Executable files keep mode 0755, others get
// 0644. Symbolic links are refused: CodeCommit would store them as plain
// files.
func ZipDir(ctx context.Context, srcDir, dst string) error {
	files, err := SourceFiles(ctx, srcDir)
	if err != nil {
		return fmt.Errorf("zip %s: %w", srcDir, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("zip %s: the directory holds no files", srcDir)
	}
	var entries []Entry
	for _, rel := range files {
		path := filepath.Join(srcDir, filepath.FromSlash(rel))
		fi, err := os.Lstat(path)
		if err != nil {
			return fmt.Errorf("zip %s: %w", srcDir, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("zip %s: %s is a symbolic link: replace it with the file it points to", srcDir, path)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("zip %s: %s is not a regular file", srcDir, path)
		}
		mode := fs.FileMode(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		entries = append(entries, Entry{Name: rel, Mode: mode, Path: path})
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return WriteZip(dst, entries)
}

// SourceFiles lists the files under dir that a commit of it would hold,
// slash-separated and relative to dir. Inside a git work tree that is the
// tracked files plus the untracked ones .gitignore does not exclude (so
// node_modules or build output never reach a seeded repository); elsewhere
// it is every file under dir.
func SourceFiles(ctx context.Context, dir string) ([]string, error) {
	if info, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--is-inside-work-tree").Run() == nil {
		cmd := exec.CommandContext(ctx, "git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("list files of %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
		}
		var files []string
		for _, f := range strings.Split(out.String(), "\x00") {
			if f == "" {
				continue
			}
			// A tracked file deleted from the work tree is not part of the next commit.
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
				continue
			}
			files = append(files, f)
		}
		slices.Sort(files)
		return slices.Compact(files), nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(files)
	return files, err
}

// LambdaTarget is the Lambda platform the engine runs on (provided.al2023, arm64).
var LambdaTarget = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// BuildLambda compiles the main package pkg (a path relative to moduleDir,
// e.g. "./lambdas/cmd/engine") for Lambda and zips it as outDir/lambda.zip
// with the single entry "bootstrap". The build is reproducible: -trimpath,
// no VCS stamp, stripped symbols, so the same source gives the same zip.
func BuildLambda(ctx context.Context, moduleDir, pkg, outDir string) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	binary := filepath.Join(outDir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build",
		"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags", "-s -w",
		"-o", binary, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), LambdaTarget...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return "", fmt.Errorf("build %s in %s: go build failed: %s", pkg, moduleDir, strings.TrimSpace(out.String()))
		}
		return "", fmt.Errorf("build %s in %s: %w", pkg, moduleDir, err)
	}
	zipPath := filepath.Join(outDir, "lambda.zip")
	if err := WriteZip(zipPath, []Entry{{Name: "bootstrap", Mode: 0o755, Path: binary}}); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return zipPath, nil
}
