// Package scripts tests the project's shell scripts with stub commands on
// PATH.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stubPulumi is a pulumi CLI that records every call with the passphrase it
// was given. A login makes whoami succeed on the backend in $STUB_DIR.
const stubPulumi = `#!/usr/bin/env bash
echo "pulumi $* passphrase=${PULUMI_CONFIG_PASSPHRASE-<unset>} file=${PULUMI_CONFIG_PASSPHRASE_FILE-<unset>}" >>"$STUB_DIR/calls"
case "$1" in
  whoami)
    [[ -f $STUB_DIR/backend ]] || { echo "not logged in" >&2; exit 1; }
    echo me
    [[ ${2-} == --verbose ]] && echo "Backend URL: $(cat "$STUB_DIR/backend")"
    exit 0 ;;
  login) echo "file://~" >"$STUB_DIR/backend" ;;
  stack)
    if [[ $3 == --create ]]; then touch "$STUB_DIR/stack-$4"; else [[ -f $STUB_DIR/stack-$3 ]]; fi ;;
esac
`

// stubAWS answers get-caller-identity, or fails as the CLI does without
// credentials when $STUB_AWS_FAIL is set.
const stubAWS = `#!/usr/bin/env bash
echo "aws $*" >>"$STUB_DIR/calls"
if [[ -n ${STUB_AWS_FAIL-} ]]; then
  echo "Unable to locate credentials. You can configure credentials by running \"aws configure\"." >&2
  exit 255
fi
echo "arn:aws:iam::123456789012:user/dev"
`

type run struct {
	out   string
	calls string
	err   error
}

// pulumiSh runs scripts/pulumi.sh with the stub pulumi and aws first on
// PATH. backend "" means not logged in; existing names a stack that exists.
func pulumiSh(t *testing.T, cmd, backend, existing string, env []string, terminalInput string) run {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"pulumi": stubPulumi, "aws": stubAWS} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if backend != "" {
		if err := os.WriteFile(filepath.Join(dir, "backend"), []byte(backend+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if existing != "" {
		if err := os.WriteFile(filepath.Join(dir, "stack-"+existing), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script, err := filepath.Abs("pulumi.sh")
	if err != nil {
		t.Fatal(err)
	}
	var c *exec.Cmd
	if terminalInput != "" {
		// script(1) gives the shell a terminal and types terminalInput into it.
		if _, err := exec.LookPath("script"); err != nil {
			t.Fatal("script not found: install the Debian package bsdutils (util-linux)")
		}
		c = exec.Command("script", "-qec", script+" "+cmd+" dev", "/dev/null")
		c.Stdin = strings.NewReader(terminalInput)
	} else {
		c = exec.Command(script, cmd, "dev")
	}
	// The program itself is not built: that is the Pulumi-linked build the
	// stacks tests cover.
	c.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir, "STUB_DIR=" + dir, "CANARY_BUILD_PROGRAM=true"}, env...)
	out, err := c.CombinedOutput()
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return run{out: string(out), calls: string(calls), err: err}
}

func TestLocalBackendRefusesToRunWithoutAPassphrase(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cmd string
		env       []string
		want      string
	}{
		{"nothing set, no terminal", "up", nil, "no passphrase for stack dev and no terminal to ask for one"},
		{"empty variable", "preview", []string{"PULUMI_CONFIG_PASSPHRASE="}, "PULUMI_CONFIG_PASSPHRASE is set but empty"},
		{"missing file", "destroy", []string{"PULUMI_CONFIG_PASSPHRASE_FILE=/nonexistent/passphrase"}, "PULUMI_CONFIG_PASSPHRASE_FILE=/nonexistent/passphrase does not exist"},
		{"empty file", "up", []string{"PULUMI_CONFIG_PASSPHRASE_FILE=" + empty}, "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := pulumiSh(t, c.cmd, "", "", c.env, "")
			if r.err == nil {
				t.Fatalf("pulumi.sh %s succeeded:\n%s", c.cmd, r.out)
			}
			for _, want := range []string{c.want, "set PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE"} {
				if !strings.Contains(r.out, want) {
					t.Errorf("output lacks %q:\n%s", want, r.out)
				}
			}
			if strings.Contains(r.calls, "pulumi "+c.cmd) || strings.Contains(r.calls, "--create") {
				t.Errorf("pulumi ran despite the refusal:\n%s", r.calls)
			}
		})
	}
}

func TestLocalBackendPassesThePassphrase(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		env      []string
		existing string
		typed    string
		want     string // in the pulumi up call
	}{
		{"variable", []string{"PULUMI_CONFIG_PASSPHRASE=s3cret"}, "", "", "passphrase=s3cret file=<unset>"},
		{"file wins over the variable", []string{"PULUMI_CONFIG_PASSPHRASE=ignored", "PULUMI_CONFIG_PASSPHRASE_FILE=" + file}, "", "", "passphrase=<unset> file=" + file},
		{"asked for an existing stack", nil, "dev", "typed-once\n", "passphrase=typed-once"},
		{"asked twice for a new stack", nil, "", "typed-twice\ntyped-twice\n", "passphrase=typed-twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := pulumiSh(t, "up", "", c.existing, c.env, c.typed)
			if r.err != nil {
				t.Fatalf("pulumi.sh up: %v\n%s\ncalls:\n%s", r.err, r.out, r.calls)
			}
			if !strings.Contains(r.calls, "pulumi login --local") {
				t.Errorf("no local login:\n%s", r.calls)
			}
			if !strings.Contains(r.calls, "pulumi up --stack dev "+c.want) {
				t.Errorf("pulumi up did not get %q:\n%s", c.want, r.calls)
			}
			// The terminal echoes what script(1) types before read -s
			// turns echo off; after the prompt nothing may show.
			if i := strings.Index(r.out, "Passphrase for"); i >= 0 && strings.Contains(r.out[i:], "typed-") {
				t.Errorf("the passphrase was echoed after the prompt:\n%s", r.out)
			}
		})
	}
}

func TestTerminalRefusesAnEmptyOrMistypedPassphrase(t *testing.T) {
	for name, c := range map[string]struct{ typed, want string }{
		"empty":                {"\n", "run make up again and type a passphrase"},
		"differs on new stack": {"one\ntwo\n", "the two passphrases differ"},
	} {
		t.Run(name, func(t *testing.T) {
			r := pulumiSh(t, "up", "", "", nil, c.typed)
			if r.err == nil {
				t.Fatalf("pulumi.sh up succeeded:\n%s", r.out)
			}
			if !strings.Contains(r.out, c.want) || strings.Contains(r.out, "in a terminal") {
				t.Errorf("output does not say %q (or tells a user at a terminal to use one):\n%s", c.want, r.out)
			}
			if strings.Contains(r.calls, "pulumi up") || strings.Contains(r.calls, "login") {
				t.Errorf("pulumi up or a login ran:\n%s", r.calls)
			}
		})
	}
}

// The checks that need no build come first: a missing credential or region
// is reported in seconds, before any login, build or stack change.
func TestPreflightRefusesBeforeAnythingRuns(t *testing.T) {
	r := pulumiSh(t, "up", "", "dev", []string{"STUB_AWS_FAIL=1", "PULUMI_CONFIG_PASSPHRASE=s3cret", "CANARY_BUILD_PROGRAM=touch $STUB_DIR/built"}, "")
	if r.err == nil {
		t.Fatalf("pulumi.sh up succeeded without credentials:\n%s", r.out)
	}
	for _, want := range []string{"no usable AWS credentials for region us-west-2", "Unable to locate credentials", "aws configure"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.calls, "pulumi") {
		t.Errorf("pulumi ran before the credentials were checked:\n%s", r.calls)
	}
	if !strings.Contains(r.calls, "aws sts get-caller-identity --region us-west-2") {
		t.Errorf("the credentials were not checked for the stack's region:\n%s", r.calls)
	}
}

func TestPreflightNamesTheIdentityAndBuildsBeforePulumiRuns(t *testing.T) {
	r := pulumiSh(t, "preview", "https://api.pulumi.com", "dev", []string{"CANARY_BUILD_PROGRAM=bash -c 'echo build >>$STUB_DIR/calls'"}, "")
	if r.err != nil {
		t.Fatalf("pulumi.sh preview: %v\n%s", r.err, r.out)
	}
	if !strings.Contains(r.out, "AWS identity: arn:aws:iam::123456789012:user/dev, region us-west-2") {
		t.Errorf("output does not name the identity:\n%s", r.out)
	}
	build, preview := strings.Index(r.calls, "build\n"), strings.Index(r.calls, "pulumi preview")
	if build < 0 || preview < build {
		t.Errorf("the program was not built before pulumi preview:\n%s", r.calls)
	}
}

func TestCloudBackendNeedsNoPassphrase(t *testing.T) {
	r := pulumiSh(t, "preview", "https://api.pulumi.com", "dev", nil, "")
	if r.err != nil {
		t.Fatalf("pulumi.sh preview: %v\n%s", r.err, r.out)
	}
	if !strings.Contains(r.calls, "pulumi preview --stack dev passphrase=<unset>") || strings.Contains(r.calls, "login") {
		t.Errorf("calls:\n%s", r.calls)
	}
}
