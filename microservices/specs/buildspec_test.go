package specs

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/spec"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/template"
)

// buildspec is the part of a CodeBuild buildspec these files use.
type buildspec struct {
	Version   string            `json:"version"`
	Env       map[string]any    `json:"env"`
	Phases    map[string]*phase `json:"phases"`
	Artifacts struct {
		Files        []string `json:"files"`
		DiscardPaths any      `json:"discard-paths"` // yes, read as YAML 1.1 true
	} `json:"artifacts"`
}

type phase struct {
	OnFailure string   `json:"on-failure"`
	Commands  []string `json:"commands"`
}

func readBuildspec(t *testing.T, s service) buildspec {
	t.Helper()
	var b buildspec
	if err := yaml.UnmarshalStrict(s.file(t, "specfiles/build.yml"), &b); err != nil {
		t.Fatalf("%s build.yml: %v", s.name, err)
	}
	return b
}

func TestBuildspecShape(t *testing.T) {
	for _, s := range services {
		t.Run(s.name, func(t *testing.T) {
			b := readBuildspec(t, s)
			if b.Version != "0.2" {
				t.Fatalf("version %q, want 0.2", b.Version)
			}
			for _, name := range []string{"pre_build", "build", "post_build"} {
				if p := b.Phases[name]; p == nil || len(p.Commands) == 0 {
					t.Fatalf("phase %s has no commands", name)
				}
			}
			for _, name := range []string{"pre_build", "build"} {
				if b.Phases[name].OnFailure != "ABORT" {
					t.Errorf("phase %s must abort on failure so that no deploy.json follows a failed build", name)
				}
			}
			if len(b.Artifacts.Files) != 1 || b.Artifacts.Files[0] != "deploy.json" || (b.Artifacts.DiscardPaths != true && b.Artifacts.DiscardPaths != "yes") {
				t.Fatalf("artifacts = %+v, want deploy.json at the root", b.Artifacts)
			}
			all := strings.Join(append(b.Phases["pre_build"].Commands, b.Phases["post_build"].Commands...), "\n")
			for _, want := range []string{"aws ecr get-login-password", "docker login --username AWS --password-stdin", "CODEBUILD_RESOLVED_SOURCE_VERSION", "-f specfiles/deploy.jq"} {
				if !strings.Contains(all, want) {
					t.Errorf("build.yml lacks %q", want)
				}
			}
			if strings.Contains(all, "aws ecr get-login ") {
				t.Error("build.yml uses the AWS CLI v1 login")
			}
		})
	}
}

// fakeTools puts stand-ins for docker and aws first on PATH; each records
// its arguments (and docker login its password) in calls.log.
func fakeTools(t *testing.T) (binDir, calls string) {
	t.Helper()
	binDir = t.TempDir()
	calls = filepath.Join(binDir, "calls.log")
	scripts := map[string]string{
		"aws": `#!/bin/sh
echo "aws $*" >> "` + calls + `"
if [ "$1 $2" = "ecr get-login-password" ]; then echo fake-ecr-password; fi
`,
		"docker": `#!/bin/sh
echo "docker $*" >> "` + calls + `"
if [ "$1" = login ]; then read pw; echo "docker login password: $pw" >> "` + calls + `"; fi
`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(binDir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return binDir, calls
}

// runBuild runs every command of build.yml in order in one bash, as
// CodeBuild does, in a copy of the service's specfiles.
func runBuild(t *testing.T, s service, env map[string]string) (workDir, calls string, out []byte, err error) {
	t.Helper()
	if _, lookErr := exec.LookPath("jq"); lookErr != nil {
		t.Fatal("jq not found: install the Debian package jq (CodeBuild images ship it)")
	}
	b := readBuildspec(t, s)
	var script strings.Builder
	script.WriteString("set -eo pipefail\n")
	for _, name := range []string{"pre_build", "build", "post_build"} {
		for _, c := range b.Phases[name].Commands {
			script.WriteString(c)
			script.WriteString("\n")
		}
	}
	workDir = t.TempDir()
	if err := os.CopyFS(filepath.Join(workDir, "specfiles"), os.DirFS(filepath.Join(s.dir(), "specfiles"))); err != nil {
		t.Fatal(err)
	}
	binDir, calls := fakeTools(t)
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = workDir
	cmd.Env = []string{"PATH=" + binDir + ":" + os.Getenv("PATH"), "HOME=" + workDir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err = cmd.CombinedOutput()
	return workDir, calls, out, err
}

func codebuildEnv(s service, router string) map[string]string {
	return map[string]string{
		"DOCKER_REGISTRY_URI":               "123456789012.dkr.ecr.us-west-2.amazonaws.com/" + s.name,
		"AWS_ACCOUNT_ID":                    "123456789012",
		"AWS_DEFAULT_REGION":                "us-west-2",
		"EKS_CLUSTER_NAME":                  "canary-platform",
		"KUBERNETES_NAMESPACE":              "yelb",
		"TRAFFIC_ROUTER":                    router,
		"CODEBUILD_RESOLVED_SOURCE_VERSION": "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
	}
}

// validator runs the engine's Validate step, which needs no cluster, with
// the service domain and the template policy the environment sets (App
// Mesh pods run as its Envoy ServiceAccount).
var validator = &engine.Engine{Routers: routers.All(), ServiceDomain: serviceDomain,
	Policy: template.Policy{ServiceAccounts: []string{contract.AppMeshEnvoyServiceAccount}}}

func TestBuildWritesDeployJSONTheEngineAccepts(t *testing.T) {
	for _, s := range services {
		for _, router := range routerNames {
			t.Run(s.name+"/"+router, func(t *testing.T) {
				env := codebuildEnv(s, router)
				workDir, calls, out, err := runBuild(t, s, env)
				if err != nil {
					t.Fatalf("build.yml failed: %v\n%s", err, out)
				}
				data, err := os.ReadFile(filepath.Join(workDir, "deploy.json"))
				if err != nil {
					t.Fatalf("no deploy.json at the artifact root: %v\n%s", err, out)
				}
				got, err := spec.Parse(data)
				if err != nil {
					t.Fatalf("spec.Parse rejects the built deploy.json: %v\n%s", err, data)
				}
				// The engine's Validate step: fields, rendering and the
				// template's shape for the strategy.
				if _, err := validator.Handle(context.Background(), engine.Event{Action: statemachine.ActionValidate, Execution: "build", State: data}); err != nil {
					t.Fatalf("the engine's Validate step rejects the built deploy.json: %v", err)
				}
				image := regexp.MustCompile(`^123456789012\.dkr\.ecr\.us-west-2\.amazonaws\.com/` + s.name + `:0a1b2c3d-\d{14}$`)
				if !image.MatchString(got.ContainerImage) {
					t.Errorf("container_image %q is not <registry>:<commit>-<timestamp>", got.ContainerImage)
				}
				tmpl, err := base64.StdEncoding.DecodeString(got.ConfigFile)
				if err != nil || string(tmpl) != string(s.template(t, router)) {
					t.Errorf("config_file is not specfiles/%s/kubernetes_template.yml in base64 (%v)", router, err)
				}
				if got.ClusterName != "canary-platform" || got.Namespace != "yelb" || got.Router != router || got.Microservice != s.name {
					t.Errorf("cluster %q, namespace %q, router %q, microservice %q", got.ClusterName, got.Namespace, got.Router, got.Microservice)
				}
				wantWait := 60
				if router == "gatewayapi" {
					wantWait = 90
				}
				if got.WaitTime != wantWait || got.PercentageStep != s.step || got.FailureThresholdValue != s.failures || got.FailureThresholdTime != 300 {
					t.Errorf("wait %d step %d threshold %v/%d, want %d %d %v/300", got.WaitTime, got.PercentageStep,
						got.FailureThresholdValue, got.FailureThresholdTime, wantWait, s.step, s.failures)
				}
				wantStrategy := "canary"
				if s.inPlace {
					wantStrategy = "in-place"
				}
				if got.Strategy != wantStrategy {
					t.Errorf("strategy %q, want %q", got.Strategy, wantStrategy)
				}

				log, err := os.ReadFile(calls)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{
					"aws ecr get-login-password --region us-west-2",
					"docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-west-2.amazonaws.com",
					"docker login password: fake-ecr-password",
					"docker build --platform linux/arm64 --build-arg BUILD_VERSION=0a1b2c3d-",
					"--tag " + got.ContainerImage + " .",
					"docker push " + got.ContainerImage,
				} {
					if !strings.Contains(string(log), want) {
						t.Errorf("build did not run %q; calls:\n%s", want, log)
					}
				}
			})
		}
	}
}

func TestBuildRefusesBadEnvironment(t *testing.T) {
	s := services[0]
	cases := []struct {
		name, key, value, want string
	}{
		{"unknown router", "TRAFFIC_ROUTER", "istio", `TRAFFIC_ROUTER="istio" is not a traffic layer: use appmesh or gatewayapi`},
		{"no cluster", "EKS_CLUSTER_NAME", "", "environment variable EKS_CLUSTER_NAME is empty"},
		{"no registry", "DOCKER_REGISTRY_URI", "", "environment variable DOCKER_REGISTRY_URI is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := codebuildEnv(s, "appmesh")
			env[tc.key] = tc.value
			workDir, calls, out, err := runBuild(t, s, env)
			if err == nil {
				t.Fatalf("build succeeded with %s=%q", tc.key, tc.value)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output %q lacks %q", out, tc.want)
			}
			if _, err := os.Stat(filepath.Join(workDir, "deploy.json")); err == nil {
				t.Fatal("a failed build left a deploy.json")
			}
			if log, _ := os.ReadFile(calls); strings.Contains(string(log), "docker build") {
				t.Fatal("the image was built despite the bad environment")
			}
		})
	}
}
