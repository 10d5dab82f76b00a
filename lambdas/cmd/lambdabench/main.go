// Command lambdabench prints the size of the engine's Lambda zip (arm64, as
// deployed) and the cold start of its bootstrap: the time from exec to the
// first request for an invocation on a local Lambda Runtime API. The Lambda
// hardware is arm64; the cold start is measured on this machine's
// architecture, built the same way.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/eks-canary/platform/internal/bundle"
)

func main() {
	runs := flag.Int("runs", 15, "cold starts to measure")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "lambdabench:", err)
		os.Exit(1)
	}
}

func run(runs int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "lambdabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	zipPath, err := bundle.BuildLambda(ctx, root, "./lambdas/cmd/engine", filepath.Join(dir, "arm64"))
	if err != nil {
		return err
	}
	info, err := os.Stat(zipPath)
	if err != nil {
		return err
	}
	fmt.Printf("Lambda zip (linux/arm64): %.1f MB (target < 15 MB)\n", float64(info.Size())/1e6)

	native := filepath.Join(dir, "bootstrap")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc",
		"-ldflags", "-s -w", "-o", native, "./lambdas/cmd/engine")
	build.Dir, build.Stderr = root, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		return fmt.Errorf("build bootstrap for %s: %w", runtime.GOARCH, err)
	}
	var starts []time.Duration
	for range runs {
		d, err := coldStart(native)
		if err != nil {
			return err
		}
		starts = append(starts, d)
	}
	slices.Sort(starts)
	fmt.Printf("cold start to first invocation request (%s, %d runs): median %s, max %s (target < 200 ms)\n",
		runtime.GOARCH, runs, starts[len(starts)/2].Round(100*time.Microsecond), starts[len(starts)-1].Round(100*time.Microsecond))
	return nil
}

// coldStart runs the bootstrap against a local Runtime API and times its
// first GET of the next invocation: everything init does happens before it.
func coldStart(bootstrap string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	asked := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- time.Now():
		default:
		}
		<-r.Context().Done() // hold the long poll until the process is killed
	})}
	go srv.Serve(ln)
	defer srv.Close()

	cmd := exec.Command(bootstrap)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"CANARY_ENTRY=step", "AWS_REGION=us-west-2",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example", "AWS_EC2_METADATA_DISABLED=true",
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case at := <-asked:
		return at.Sub(began), nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("the bootstrap never asked for an invocation")
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(string(out[:len(out)-1])), nil
}
