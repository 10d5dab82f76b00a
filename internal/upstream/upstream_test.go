package upstream

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every vendored file is listed in SHA256SUMS with its checksum, and nothing
// else is there: the README's provenance stays true.
func TestVendoredFilesMatchTheirChecksums(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not `<sha256>  <path>`", sc.Text())
		}
		want[name] = sum
	}
	charts := filepath.Join(dir, "charts")
	seen := 0
	err = filepath.WalkDir(charts, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(charts, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		switch w, ok := want[filepath.ToSlash(rel)]; {
		case !ok:
			t.Errorf("%s is not in SHA256SUMS: vendor only upstream files and record them", rel)
		case w != hex.EncodeToString(sum[:]):
			t.Errorf("%s differs from the upstream file (sha256 %x, recorded %s)", rel, sum, w)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(want) {
		t.Errorf("SHA256SUMS lists %d files, %d are vendored", len(want), seen)
	}
}

func TestCRDFilesHoldOnlyCRDs(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := CRDFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		objs, err := DecodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				t.Errorf("%s holds %s %s", f, o.GetKind(), o.GetName())
			}
			n++
		}
	}
	// 7 App Mesh, 7 VPC Lattice controller, 1 DNSEndpoint.
	if n != 15 {
		t.Errorf("%d CRDs in %v, want 15", n, files)
	}
}

func TestDecodeLikeConfigGroup(t *testing.T) {
	objs, err := Decode("---\n\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n" +
		"---\n{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}\n")
	if err != nil {
		t.Fatal(err)
	}
	got := CountKinds(objs)
	if len(objs) != 2 || got["v1/ConfigMap"] != 1 || got["v1/Secret"] != 1 {
		t.Fatalf("decoded %v, want one ConfigMap (from the List) and one Secret", got)
	}
	if _, err := Decode("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("object without a name: got %v, want an error naming metadata.name", err)
	}
}
