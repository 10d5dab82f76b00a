package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/lock"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/status"
)

var (
	plane testcluster.Shared
	// canaryctlBin is the command built once per test run; the tests use it
	// exactly as an operator would.
	canaryctlBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "canaryctl-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	canaryctlBin = filepath.Join(dir, "canaryctl")
	build := exec.Command("go", "build", "-o", canaryctlBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build canaryctl: %v\n", err)
		os.Exit(1)
	}
	code := plane.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// canaryctl runs the built command with env added to a clean environment.
func canaryctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(canaryctlBin, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run canaryctl %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdout) || !strings.Contains(r.stderr, stderr) {
		t.Fatalf("exit %d (want %d)\nstdout:\n%s(want it to contain %q)\nstderr:\n%s(want it to contain %q)", r.code, code, r.stdout, stdout, r.stderr, stderr)
	}
}

func rollout(svc string, phase string, weight, next, stepN int, verdicts ...status.Verdict) status.Status {
	return status.Status{
		Microservice: svc, Execution: "exec-42", Router: "appmesh", Strategy: "canary",
		StableVersion: 3, StableImage: "repo/" + svc + ":1.3", CanaryVersion: 4, CanaryImage: "repo/" + svc + ":1.4",
		Weight: weight, NextWeight: next, Step: stepN, Steps: 3, Phase: phase, Verdicts: verdicts,
		StartedAt: time.Now().Add(-2 * time.Minute), LastVersion: 4,
	}
}

func pass(weight int, requests float64, rate, p99, p float64) status.Verdict {
	return status.Verdict{At: time.Now(), Weight: weight, Result: "pass", Requests: requests, SuccessRate: &rate, LatencyP99: &p99, PValue: &p}
}

// space is a test's own namespace on the shared plane, with the engine's
// status store for it.
type space struct {
	*testcluster.Cluster
	ns  string
	eng *status.Engine
}

// seed gives the test its own namespace holding statuses, written as the
// engine writes them.
func seed(t *testing.T, statuses ...status.Status) space {
	t.Helper()
	c := plane.Get(t)
	s := space{Cluster: c, ns: c.Namespace(t)}
	s.eng = status.NewEngine(c.Clientset, s.ns)
	for _, st := range statuses {
		s.write(t, st)
	}
	return s
}

// write stores st as the engine's status of its microservice.
func (s space) write(t *testing.T, st status.Status) {
	t.Helper()
	if err := s.eng.Write(context.Background(), st); err != nil {
		t.Fatalf("write the status of %s: %v", st.Microservice, err)
	}
}

// ctl runs canaryctl on the namespace.
func (s space) ctl(t *testing.T, args ...string) result {
	t.Helper()
	return canaryctl(t, nil, append([]string{"--kubeconfig", s.Kubeconfig, "-n", s.ns}, args...)...)
}

func cmData(t *testing.T, c *testcluster.Cluster, ns, svc string) (map[string]string, string) {
	t.Helper()
	cm, err := c.Clientset.CoreV1().ConfigMaps(ns).Get(context.Background(), naming.StatusConfigMap(svc), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data, cm.ResourceVersion
}

func TestStatusCommand(t *testing.T) {
	s := seed(t)
	kc := "--kubeconfig=" + s.Kubeconfig

	canaryctl(t, nil, kc, "-n", s.ns, "status").expect(t, exitOK, "", fmt.Sprintf("No rollouts in namespace %q.", s.ns))

	s.write(t, rollout("yelb-appserver", status.PhaseProgressing, 30, 60, 1, pass(30, 1200, 99.5, 80, 0.4)))
	done := rollout("yelb-ui", status.PhaseSucceeded, 100, 100, 3)
	done.StableVersion = 4
	s.write(t, done)
	if _, err := status.NewOperator(s.Clientset).Request(context.Background(), s.ns, "yelb-appserver", status.ActionPause); err != nil {
		t.Fatal(err)
	}

	r := canaryctl(t, nil, kc, "status", "--namespace", s.ns)
	r.expect(t, exitOK, "", "")
	want := []string{
		"NAME             PHASE                           STABLE   CANARY   WEIGHT   STEP   LAST-VERDICT   AGE",
		"yelb-appserver   Progressing (pause requested)   v3       v4       30%      1/3    pass 99.50%    2m",
		"yelb-ui          Succeeded                       v4       v4       100%     3/3    -              2m",
	}
	if got := strings.TrimRight(r.stdout, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("status table:\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	// KUBECONFIG is honoured, and -A adds the namespace column.
	r = canaryctl(t, []string{"KUBECONFIG=" + s.Kubeconfig}, "status", "-A")
	r.expect(t, exitOK, "NAMESPACE", "")
	if !strings.Contains(r.stdout, s.ns+"   yelb-appserver ") {
		t.Fatalf("all-namespaces listing lacks %s/yelb-appserver:\n%s", s.ns, r.stdout)
	}
}

// TestKubeconfigContexts checks --context and the context's namespace.
func TestKubeconfigContexts(t *testing.T) {
	s := seed(t, rollout("yelb-ui", status.PhaseProgressing, 10, 20, 1))
	cfg, err := clientcmd.LoadFromFile(s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	good := cfg.CurrentContext
	cfg.Contexts[good].Namespace = s.ns
	cfg.Clusters["unreachable"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.Contexts["unreachable"] = &clientcmdapi.Context{Cluster: "unreachable", AuthInfo: cfg.Contexts[good].AuthInfo}
	cfg.CurrentContext = "unreachable"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}

	canaryctl(t, nil, "--kubeconfig", path, "status").expect(t, exitError, "", "127.0.0.1:1")
	canaryctl(t, nil, "--kubeconfig", path, "--context", good, "status").expect(t, exitOK, "yelb-ui", "")
	canaryctl(t, nil, "--kubeconfig", path, "--context", "nope", "status").expect(t, exitError, "", `context "nope" does not exist`)
	canaryctl(t, nil, "--kubeconfig", filepath.Join(t.TempDir(), "missing"), "status").expect(t, exitError, "", "set --kubeconfig or KUBECONFIG")
}

func TestRequestCommands(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 30, 60, 1), rollout("yelb-ui", status.PhaseProgressing, 10, 20, 1))
	// refusedUnchanged runs a command that must fail and leave the ConfigMap alone.
	refusedUnchanged := func(code int, stderr string, args ...string) {
		t.Helper()
		before, rv := cmData(t, s.Cluster, s.ns, svc)
		s.ctl(t, args...).expect(t, code, "", stderr)
		if after, rv2 := cmData(t, s.Cluster, s.ns, svc); rv2 != rv {
			t.Fatalf("%v was refused but changed the ConfigMap:\n%v\n%v", args, before, after)
		}
	}
	control := func() (string, string) {
		data, _ := cmData(t, s.Cluster, s.ns, svc)
		return data[status.KeyPaused], data[status.KeyRequest]
	}

	refusedUnchanged(exitNotFound, fmt.Sprintf(`unknown microservice "yelb-app" in namespace %q (no ConfigMap yelb-app-rollout); known microservices: yelb-appserver, yelb-ui`, s.ns), "pause", "yelb-app")
	refusedUnchanged(exitUsage, "pause needs the microservice name", "pause")
	refusedUnchanged(exitRefused, "yelb-appserver is not paused; nothing was changed", "resume", svc)

	s.ctl(t, "pause", svc).expect(t, exitOK, "Pause requested for yelb-appserver v4 at 30%", "")
	if p, r := control(); p != "true" || r != "" {
		t.Fatalf("after pause: paused=%q request=%q", p, r)
	}
	refusedUnchanged(exitRefused, "yelb-appserver is already paused", "pause", svc)
	s.ctl(t, "resume", svc).expect(t, exitOK, "Resume requested for yelb-appserver", "")
	if p, _ := control(); p != "false" {
		t.Fatalf("after resume: paused=%q", p)
	}

	s.ctl(t, "abort", svc).expect(t, exitOK, "Abort requested for yelb-appserver v4 at 30%: at its next step the engine sends all traffic back to v3 and removes v4.", "")
	if _, r := control(); r != "abort" {
		t.Fatalf("after abort: request=%q", r)
	}
	refusedUnchanged(exitRefused, "canaryctl: an abort is already pending for yelb-appserver; nothing was changed", "abort", svc)
	refusedUnchanged(exitRefused, "an abort is already pending for yelb-appserver; promote refused", "promote", svc)

	// The engine honours the abort and finishes the rollout.
	if cleared, err := s.eng.Acknowledge(context.Background(), svc, status.RequestAbort); err != nil || !cleared {
		t.Fatalf("acknowledge the abort: cleared=%v, %v", cleared, err)
	}
	rolledBack := rollout(svc, status.PhaseRolledBack, 0, 0, 1)
	rolledBack.Reason = "aborted by an operator"
	rolledBack.UpdatedAt = time.Date(2026, 11, 25, 18, 50, 0, 0, time.UTC)
	s.write(t, rolledBack)
	refusedUnchanged(exitRefused, "yelb-appserver has no rollout in progress (last: RolledBack at 2026-11-25T18:50:00Z)", "promote", svc)
	refusedUnchanged(exitRefused, "yelb-appserver has no rollout in progress (last: RolledBack at 2026-11-25T18:50:00Z)", "abort", svc)

	s.ctl(t, "promote", "yelb-ui").expect(t, exitOK, "Promote requested for yelb-ui v4 at 10%: at its next step the engine sends all traffic to v4 and retires v3.", "")
	if data, _ := cmData(t, s.Cluster, s.ns, "yelb-ui"); data[status.KeyRequest] != "promote" {
		t.Fatalf("after promote: %v", data)
	}
}

func TestHistoryCommand(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseProgressing, 10, 20, 1))
	s.ctl(t, "history", svc).expect(t, exitOK, "", "yelb-appserver has no finished rollouts yet.")
	s.ctl(t, "history", "yelb-uii").expect(t, exitNotFound, "", `unknown microservice "yelb-uii"`)

	start := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	records := []status.Record{
		{Microservice: svc, CanaryVersion: 2, CanaryImage: "repo/yelb-appserver:1.2", StableVersion: 1, Phase: status.PhaseSucceeded,
			Execution: "exec-2", StartedAt: start, FinishedAt: start.Add(10 * time.Minute)},
		{Microservice: svc, CanaryVersion: 3, CanaryImage: "repo/yelb-appserver:1.3", StableVersion: 2, Phase: status.PhaseRolledBack,
			Reason: "success rate 93.10% below 99%", Execution: "exec-3", StartedAt: start.Add(time.Hour), FinishedAt: start.Add(time.Hour + 90*time.Second)},
	}
	for _, rec := range records {
		if err := s.eng.Finish(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	r := s.ctl(t, "history", svc)
	r.expect(t, exitOK, "", "")
	want := "" +
		"CANARY   IMAGE                     FROM   OUTCOME      STARTED               DURATION   REASON\n" +
		"v3       repo/yelb-appserver:1.3   v2     RolledBack   2026-11-25 18:00:00   90s        success rate 93.10% below 99%\n" +
		"v2       repo/yelb-appserver:1.2   v1     Succeeded    2026-11-25 17:00:00   10m        -\n"
	if r.stdout != want {
		t.Fatalf("history:\n%s\nwant\n%s", r.stdout, want)
	}
}

// TestWatchPrintsOneLinePerChange follows a rollout that gets rolled back,
// with stdout a pipe as in CI.
func TestWatchPrintsOneLinePerChange(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseWaitingPods, 0, 10, 0))

	cmd := exec.Command(canaryctlBin, "--kubeconfig", s.Kubeconfig, "-n", s.ns, "watch", svc)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expectLine := func(want ...string) string {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended early; stderr: %s", stderr.String())
			}
			for _, w := range want {
				if !strings.Contains(line, w) {
					t.Fatalf("line %q lacks %q", line, w)
				}
			}
			return line
		case <-time.After(30 * time.Second):
			t.Fatalf("no line containing %q within 30s", want)
		}
		return ""
	}
	expectLine("WaitingForReady", "[....................] 0% → next 10%")

	steps := []status.Status{
		rollout(svc, status.PhaseProgressing, 10, 50, 1, pass(10, 400, 100, 40, 0.5)),
		rollout(svc, status.PhaseProgressing, 50, 100, 2, status.Verdict{At: time.Now(), Weight: 50, Result: "fail", Requests: 900, Errors: 81, SuccessRate: ptr(91), Reason: "success rate 91.00% below 99%"}),
	}
	s.write(t, steps[0])
	expectLine("Progressing step 1/3", "[##..................] 10% → next 50%", "pass requests=400 success=100.00% p99=40ms p-value=0.500")
	s.write(t, steps[1])
	expectLine("[##########..........] 50% → next 100%", "fail requests=900 success=91.00%")
	rolled := rollout(svc, status.PhaseRolledBack, 0, 0, 2)
	rolled.Reason = "success rate 91.00% below 99%"
	s.write(t, rolled)
	expectLine("RolledBack", "[....................] 0% | reason: success rate 91.00% below 99%")
	expectLine("Rolled back: yelb-appserver v4 was removed and v3 serves all traffic: success rate 91.00% below 99%")
	if line, ok := <-lines; ok {
		t.Fatalf("unexpected line after the outcome: %q", line)
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitRolledBack {
		t.Fatalf("watch exit code %d (%v), want %d; stderr: %s", code, err, exitRolledBack, stderr.String())
	}
}

func TestWatchFinishedRolloutAndNext(t *testing.T) {
	const svc = "yelb-ui"
	s := seed(t)

	// Nothing yet: plain watch refuses, --next waits and gives up at --timeout.
	s.ctl(t, "watch", svc).expect(t, exitNotFound, "", `unknown microservice "yelb-ui"`)
	s.ctl(t, "watch", svc, "--next", "--timeout", "2s").expect(t, exitTimeout,
		"Waiting for the first rollout of yelb-ui", "yelb-ui did not finish within --timeout 2s; the rollout goes on")

	s.write(t, rollout(svc, status.PhaseSucceeded, 100, 100, 3))
	// A finished rollout: watch reports its outcome at once.
	s.ctl(t, "watch", svc).expect(t, exitOK, "Rollout succeeded: yelb-ui v4 serves all traffic.", "")

	// --next skips it and follows the next one.
	cmd := exec.Command(canaryctlBin, "--kubeconfig", s.Kubeconfig, "-n", s.ns, "watch", svc, "--next", "--timeout", "60s")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, func() bool {
		return strings.Contains(stdout.String(), "Waiting for the next rollout of yelb-ui (last: v4 Succeeded).")
	})
	next := rollout(svc, status.PhaseProgressing, 20, 40, 1)
	next.Execution, next.CanaryVersion, next.StableVersion = "exec-43", 5, 4
	s.write(t, next)
	next.Phase, next.Weight, next.Reason = status.PhaseFailed, 20, "route update rejected: weight 150 above 100"
	s.write(t, next)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if strings.Contains(out, "Succeeded") && !strings.Contains(out, "(last: v4 Succeeded)") {
		t.Fatalf("--next showed the finished rollout:\n%s", out)
	}
	for _, want := range []string{"Progressing step 1/3 canary v5 [####................] 20% → next 40%",
		"Rollout failed: yelb-ui needs an operator, the roll back did not complete: route update rejected: weight 150 above 100"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

// syncBuffer collects a subprocess's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRecoverFinishesAFailedRollBack: a roll back that gave up left the
// status Failed and the lock held; recover rolls back from the status
// alone and frees the microservice.
func TestRecoverFinishesAFailedRollBack(t *testing.T) {
	tmpl, err := os.ReadFile("../../engine/testdata/appmesh.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := seed(t)
	ctx := context.Background()
	failed := rollout("shop", status.PhaseFailed, 50, 50, 2)
	failed.StableVersion, failed.CanaryVersion, failed.StableImage, failed.CanaryImage = 1, 2, "registry.local/shop:1", "registry.local/shop:2"
	failed.StableTemplate = base64.StdEncoding.EncodeToString(tmpl)
	failed.CanaryTemplate = failed.StableTemplate
	failed.Reason = "roll back failed: apply VirtualRouter shop: forbidden"
	s.write(t, failed)
	locks := lock.New(s.Clientset.CoordinationV1(), s.ns)
	if err := locks.Hold(ctx, "shop", failed.Execution, "forbidden"); err != nil {
		t.Fatal(err)
	}

	s.ctl(t, "status").expect(t, exitOK, "Fix the cause, then run: canaryctl -n "+s.ns+" recover shop", "")
	s.ctl(t, "recover", "nosuch").expect(t, exitNotFound, "", `unknown microservice "nosuch"`)
	s.ctl(t, "recover", "shop").expect(t, exitOK, "Recovered: shop v2 was removed and v1 serves all traffic; the lock is released", "")

	snap, err := status.NewOperator(s.Clientset).Get(ctx, s.ns, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status.Phase != status.PhaseRolledBack || len(snap.History) != 1 || snap.History[0].Phase != status.PhaseRolledBack {
		t.Errorf("after recover: phase %s, history %+v", snap.Status.Phase, snap.History)
	}
	if info, err := locks.Holder(ctx, "shop"); err != nil || info != nil {
		t.Errorf("lock after recover: %+v, %v", info, err)
	}
	live, err := routers.All()["appmesh"].Weights(ctx, s.Dynamic, s.ns, "shop")
	if err != nil || len(live) != 1 || live[0].Name != "shop-1" || live[0].Weight != 100 {
		t.Errorf("route after recover: %v, %v; want shop-1 alone at 100", live, err)
	}
	s.ctl(t, "recover", "shop").expect(t, exitRefused, "", "shop has no failed roll back to recover (phase RolledBack); nothing was changed")
}
