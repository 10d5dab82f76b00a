package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dockerHub names the registries an image without a host resolves to.
var dockerHub = map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true, "registry.hub.docker.com": true}

var (
	argLine  = regexp.MustCompile(`^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?`)
	fromLine = regexp.MustCompile(`^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?`)
	argRef   = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	digest   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// baseImages lists the images a Dockerfile's FROM lines pull, with ARG
// defaults declared before them substituted; FROM <earlier stage> is not
// an image.
func baseImages(dockerfile string) ([]string, error) {
	args := map[string]string{}
	stages := map[string]bool{}
	var images []string
	// Continuation lines are joined, as Docker reads them.
	text := strings.ReplaceAll(dockerfile, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if m := argLine.FindStringSubmatch(line); m != nil && len(images) == 0 {
			args[m[1]] = strings.Trim(m[2], `"'`)
			continue
		}
		m := fromLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ref := argRef.ReplaceAllStringFunc(m[1], func(v string) string {
			name := argRef.FindStringSubmatch(v)[1]
			if val, ok := args[name]; ok {
				return val
			}
			return v
		})
		if strings.Contains(ref, "$") {
			return nil, fmt.Errorf("FROM %s: the image depends on an ARG without a default before the first FROM", m[1])
		}
		if !stages[strings.ToLower(ref)] {
			images = append(images, ref)
		}
		if m[2] != "" {
			stages[strings.ToLower(m[2])] = true
		}
	}
	return images, nil
}

// checkBaseImage refuses an image that is pulled from Docker Hub (by name
// or implicitly, having no registry host) or is not pinned to a tag; a
// digest, if given, must be a full sha256.
func checkBaseImage(ref string) error {
	name, dig, hasDigest := strings.Cut(ref, "@")
	host, _, found := strings.Cut(name, "/")
	if !found || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("%s comes from Docker Hub (no registry host): use public.ecr.aws/docker/library/... or another registry without anonymous pull limits", ref)
	}
	if dockerHub[host] {
		return fmt.Errorf("%s comes from Docker Hub: use public.ecr.aws/docker/library/... or another registry without anonymous pull limits", ref)
	}
	last := name[strings.LastIndex(name, "/")+1:]
	_, tag, hasTag := strings.Cut(last, ":")
	if !hasTag || tag == "" || tag == "latest" {
		return fmt.Errorf("%s is not pinned to a tag: name the version, e.g. :1.2.3", ref)
	}
	if hasDigest && !digest.MatchString(dig) {
		return fmt.Errorf("%s has digest %q: give the full sha256:<64 hex digits>", ref, dig)
	}
	return nil
}

// The checker itself: Docker Hub in every spelling is refused, and so are
// unpinned tags and stage names are not mistaken for images.
func TestBaseImageRules(t *testing.T) {
	for _, tt := range []struct {
		dockerfile string
		want       string // "" accepts
	}{
		{"FROM public.ecr.aws/docker/library/golang:1.26.8-trixie AS build\nFROM build\n", ""},
		{"FROM public.ecr.aws/nginx/nginx-unprivileged:1.29-alpine@sha256:" + strings.Repeat("a", 64) + "\n", ""},
		{"FROM --platform=$BUILDPLATFORM gcr.io/distroless/static-debian12:nonroot\n", ""},
		{"ARG BASE=public.ecr.aws/docker/library/redis:7.4.5-bookworm\nFROM ${BASE}\n", ""},
		{"FROM redis:7.4.5-bookworm\n", "comes from Docker Hub (no registry host)"},
		{"FROM nginxinc/nginx-unprivileged:1.28.0-alpine\n", "comes from Docker Hub (no registry host)"},
		{"FROM docker.io/library/postgres:17.6\n", "comes from Docker Hub"},
		{"FROM index.docker.io/library/postgres:17.6\n", "comes from Docker Hub"},
		{"FROM public.ecr.aws/docker/library/golang AS build\n", "is not pinned to a tag"},
		{"FROM public.ecr.aws/docker/library/golang:latest\n", "is not pinned to a tag"},
		{"FROM public.ecr.aws/docker/library/golang:1.26@sha256:abc\n", "give the full sha256"},
		{"ARG BASE=node:22\nFROM $BASE AS build\n", "comes from Docker Hub"},
		{"FROM public.ecr.aws/docker/library/golang:1.26.8 AS build\nFROM \\\n  postgres:17.6\n", "comes from Docker Hub"},
		{"FROM ${UNSET}\n", "ARG without a default"},
	} {
		images, err := baseImages(tt.dockerfile)
		if err == nil {
			for _, im := range images {
				if err = checkBaseImage(im); err != nil {
					break
				}
			}
		}
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.dockerfile, err, tt.want)
		}
	}
}

// Every Dockerfile of the sample pulls its base images from a registry
// without Docker Hub's anonymous pull limit, pinned to a tag.
func TestDockerfilesPullNothingFromDockerHub(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(microservices(t), "*", "Dockerfile*"))
	if err != nil || len(files) < 4 {
		t.Fatalf("found %d Dockerfiles (%v), want at least the four services'", len(files), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		images, err := baseImages(string(b))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(images) == 0 {
			t.Errorf("%s: no FROM line found", f)
		}
		for _, im := range images {
			if err := checkBaseImage(im); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}
