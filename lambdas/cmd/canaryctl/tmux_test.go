package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/status"
)

// terminal is a tmux server of its own with one fixed-size window.
type terminal struct {
	socket string
}

func startTerminal(t *testing.T, cols, rows int, command string) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("this test drives canaryctl in a real terminal and needs tmux (Debian: apt-get install -y tmux)")
	}
	term := &terminal{socket: filepath.Join(t.TempDir(), "tmux.sock")}
	term.run(t, "-f", "/dev/null", "new-session", "-d", "-s", "watch", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), command)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", term.socket, "kill-server").Run() })
	return term
}

func (term *terminal) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", term.socket}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen is what the terminal shows, without trailing blank lines.
func (term *terminal) screen(t *testing.T) string {
	t.Helper()
	return strings.TrimRight(term.run(t, "capture-pane", "-p", "-t", "watch"), "\n ")
}

// waitFor returns the screen once it contains every one of want.
func (term *terminal) waitFor(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen := term.screen(t)
		missing := ""
		for _, w := range want {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return screen
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; screen:\n%s", missing, screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestWatchRedrawsInATerminal(t *testing.T) {
	const svc = "yelb-appserver"
	s := seed(t, rollout(svc, status.PhaseWaitingPods, 0, 10, 0))

	term := startTerminal(t, 100, 24, fmt.Sprintf("'%s' --kubeconfig '%s' -n %s watch %s; echo \"exit status $?\"; sleep 600",
		canaryctlBin, s.Kubeconfig, s.ns, svc))
	// Each state replaces the previous one: one frame on screen, never a scroll of them.
	oneFrame := func(screen string) {
		t.Helper()
		if n := strings.Count(screen, "traffic   ["); n != 1 {
			t.Fatalf("%d traffic lines on screen, want the one frame redrawn in place:\n%s", n, screen)
		}
	}

	oneFrame(term.waitFor(t, "phase     WaitingForReady", "traffic   [....................] 0% → next 10%", "analysis  no results yet"))

	s.write(t, rollout(svc, status.PhaseProgressing, 10, 50, 1, pass(10, 412, 100, 38, 0.62)))
	oneFrame(term.waitFor(t, "traffic   [##..................] 10% → next 50%", "pass    requests 412     success 100.00%  p99 38ms    p-value 0.620"))

	s.write(t, rollout(svc, status.PhaseProgressing, 50, 100, 2, pass(50, 2310, 99.91, 41, 0.47), pass(10, 412, 100, 38, 0.62)))
	mid := term.waitFor(t, "step      2/3", "traffic   [##########..........] 50% → next 100%", "requests 2310    success 99.91%   p99 41ms    p-value 0.470")
	oneFrame(mid)
	if strings.Contains(mid, "10% → next 50%") {
		t.Fatalf("the 10%% frame is still on screen:\n%s", mid)
	}

	s.write(t, rollout(svc, status.PhaseBaking, 100, 100, 3, pass(100, 4620, 99.95, 40, 0.51), pass(50, 2310, 99.91, 41, 0.47)))
	oneFrame(term.waitFor(t, "phase     Baking", "traffic   [####################] 100% (baking)"))

	done := rollout(svc, status.PhaseSucceeded, 100, 100, 3, pass(100, 4620, 99.95, 40, 0.51), pass(50, 2310, 99.91, 41, 0.47))
	s.write(t, done)
	final := term.waitFor(t, "phase     Succeeded", "Rollout succeeded: yelb-appserver v4 serves all traffic.", "exit status 0")
	oneFrame(final)
	t.Logf("screen during the rollout:\n%s\n\nfinal screen:\n%s", mid, final)
	if path := os.Getenv("CANARYCTL_WATCH_SCREEN"); path != "" {
		if err := os.WriteFile(path, []byte(mid+"\n\n"+final+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatchInATerminalEndsNonZeroOnRollback(t *testing.T) {
	const svc = "yelb-ui"
	s := seed(t, rollout(svc, status.PhaseProgressing, 10, 20, 1))
	// A narrow terminal: lines are cut to fit, so redrawing never meets a wrapped line.
	term := startTerminal(t, 50, 20, fmt.Sprintf("'%s' --kubeconfig '%s' -n %s watch %s; echo \"exit status $?\"; sleep 600",
		canaryctlBin, s.Kubeconfig, s.ns, svc))
	term.waitFor(t, "traffic   [##..................] 10% → next 20%")

	fail := status.Verdict{At: time.Now(), Weight: 20, Result: "fail", Requests: 800, Errors: 64, SuccessRate: ptr(92), Reason: "success rate 92.00% below 99%"}
	s.write(t, rollout(svc, status.PhaseProgressing, 20, 30, 2, fail))
	term.waitFor(t, "traffic   [####................] 20% → next 30%")
	rolled := rollout(svc, status.PhaseRolledBack, 0, 0, 2, fail)
	rolled.Reason = "success rate 92.00% below 99%"
	s.write(t, rolled)
	screen := term.waitFor(t, "phase     RolledBack", "Rolled back: yelb-ui v4 was removed", "exit status 5")
	if n := strings.Count(screen, "traffic   ["); n != 1 {
		t.Fatalf("%d traffic lines on screen:\n%s", n, screen)
	}
	for _, line := range strings.Split(screen, "\n") {
		if strings.HasPrefix(line, "Rolled back") || strings.HasPrefix(line, "exit status") {
			continue
		}
		if n := len([]rune(line)); n >= 50 {
			t.Fatalf("frame line of %d runes in a 50-column terminal: %q", n, line)
		}
	}
}
