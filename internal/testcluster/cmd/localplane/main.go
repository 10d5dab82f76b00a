// Command localplane runs the test control plane standalone for demos: it
// starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok with the platform's CRDs on 127.0.0.1, writes a kubeconfig, and runs
// until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/eks-canary/platform/internal/testcluster"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to write the kubeconfig of the plane to (required)")
	binDir := flag.String("bin-dir", "", "folder of the control plane binaries (default: the folder scripts/build-control-plane.sh builds)")
	upstreamDir := flag.String("upstream-dir", "", "folder of the vendored charts whose CRDs are installed (default: testdata/upstream in the repository)")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "localplane: -kubeconfig is required: give the path the kubeconfig is written to, e.g. -kubeconfig .demo/kubeconfig")
		os.Exit(2)
	}
	if err := run(logger, *kubeconfig, testcluster.Options{BinDir: *binDir, UpstreamDir: *upstreamDir}); err != nil {
		logger.Error("local control plane failed", "error", err.Error())
		os.Exit(1)
	}
}

func run(logger *slog.Logger, kubeconfig string, opts testcluster.Options) error {
	// Subscribe before starting so a signal during start still stops the plane.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)

	c, err := testcluster.New(opts)
	if err != nil {
		return err
	}
	defer c.Stop()

	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	if dir := filepath.Dir(kubeconfig); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create folder for kubeconfig %s: %w", kubeconfig, err)
		}
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", kubeconfig, err)
	}
	logger.Info("local control plane ready", "kubeconfig", kubeconfig, "server", c.Config.Host,
		"node", testcluster.NodeName, "startup_seconds", c.StartupTime.Seconds())

	sig := <-signals
	logger.Info("stopping local control plane", "signal", sig.String())
	if err := os.Remove(kubeconfig); err != nil && !os.IsNotExist(err) {
		logger.Warn("kubeconfig not removed", "path", kubeconfig, "error", err.Error())
	}
	return nil
}
