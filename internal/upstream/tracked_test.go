package upstream

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedBytes is the largest file git may hold outside vendored upstream
// files: anything bigger is a build output or data that belongs elsewhere.
const maxTrackedBytes = 1 << 20

// executableMagic are the first bytes of compiled programs and archives.
var executableMagic = [][]byte{
	[]byte("\x7fELF"),
	[]byte("MZ"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
	[]byte("!<arch>\n"),
	[]byte("\x00asm"),
}

// Build outputs never enter git: `make tools` writes under build/, which is
// ignored, and a binary committed by mistake fails here before review.
func TestNoBuildOutputsAreTracked(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("list the tracked files (git ls-files in %s): %v", root, err)
	}
	files := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(files) < 100 {
		t.Fatalf("git lists %d tracked files; expected the whole repository", len(files))
	}
	for _, name := range files {
		path := filepath.Join(root, name)
		info, err := os.Lstat(path)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in a commit
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > maxTrackedBytes && !vendored(root, name) {
			t.Errorf("%s is %d bytes: files over %d bytes are build outputs or data; remove it from git (git rm --cached) or vendor it with its provenance", name, info.Size(), maxTrackedBytes)
		}
		if magic := leadingBytes(t, path); isExecutable(magic) {
			t.Errorf("%s is a compiled program: remove it from git (git rm --cached %s); `make tools` builds it under build/", name, name)
		}
	}
}

// vendored: a file under testdata/upstream (listed in its SHA256SUMS) or
// named by the NOTICE.md of its folder.
func vendored(root, name string) bool {
	if strings.HasPrefix(name, "testdata/upstream/") {
		return true
	}
	notice, err := os.ReadFile(filepath.Join(root, filepath.Dir(name), "NOTICE.md"))
	return err == nil && bytes.Contains(notice, []byte(filepath.Base(name)))
}

func leadingBytes(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		t.Fatal(err)
	}
	return buf[:n]
}

func isExecutable(head []byte) bool {
	for _, m := range executableMagic {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

func TestIsExecutable(t *testing.T) {
	for _, c := range []struct {
		head string
		want bool
	}{
		{"\x7fELF\x02\x01\x01\x00", true},
		{"MZ\x90\x00", true},
		{"\xcf\xfa\xed\xfe\x07\x00", true},
		{"!<arch>\n", true},
		{"#!/usr/bin/env bash", false},
		{"\x89PNG\r\n\x1a\n", false},
		{"package main", false},
		{"", false},
	} {
		if got := isExecutable([]byte(c.head)); got != c.want {
			t.Errorf("isExecutable(%q) = %v, want %v", c.head, got, c.want)
		}
	}
}
