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

// ZipDir archives every regular file under srcDir, with paths relative to
// srcDir, in lexical order. Executable files keep mode 0755, others get 0644.
// Symbolic links are refused: CodeCommit would store them as plain files.
func ZipDir(srcDir, dst string) error {
	info, err := os.Stat(srcDir)
	if err != nil {
		return fmt.Errorf("zip %s: %w", srcDir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("zip %s: not a directory", srcDir)
	}
	var entries []Entry
	err = filepath.WalkDir(srcDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link: replace it with the file it points to", path)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(srcDir, path)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		entries = append(entries, Entry{Name: filepath.ToSlash(rel), Mode: mode, Path: path})
		return nil
	})
	if err != nil {
		return fmt.Errorf("zip %s: %w", srcDir, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("zip %s: the directory holds no files", srcDir)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return WriteZip(dst, entries)
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
