package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server owned by one test.
type Redis struct {
	Port    int
	bin     string
	dir     string
	logPath string
	args    []string
	proc    *process
}

// StartRedis starts redis-server without persistence unless extra arguments
// say otherwise (e.g. a config file as the first argument, then overrides).
func StartRedis(tb testing.TB, extra ...string) *Redis {
	tb.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			tb.Fatalf("redis for tests: redis-server not on PATH; install the Debian package redis-server or set REDIS_SERVER_BIN")
		}
	}
	dir, err := os.MkdirTemp("", "yelb-redis-")
	if err != nil {
		tb.Fatalf("redis for tests: temp dir: %v", err)
	}
	port, err := FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	r := &Redis{Port: port, bin: bin, dir: dir, logPath: filepath.Join(dir, "redis.log"), args: extra}
	tb.Cleanup(func() {
		if err := r.Stop(); err != nil {
			tb.Errorf("stop redis: %v", err)
		}
		os.RemoveAll(dir)
	})
	if err := r.Start(); err != nil {
		tb.Fatalf("redis for tests: %v", err)
	}
	return r
}

// Dir is the server's working directory (where an append-only file lands).
func (r *Redis) Dir() string { return r.dir }

// Endpoint is host:port for clients.
func (r *Redis) Endpoint() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Start runs the server on r.Port and waits until it listens.
func (r *Redis) Start() error {
	if r.proc != nil && !r.proc.exited() {
		return fmt.Errorf("redis on port %d is already running", r.Port)
	}
	args := append([]string{}, r.args...)
	if len(args) == 0 {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	args = append(args, "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.dir, "--daemonize", "no", "--logfile", "")
	proc, err := startProcess(exec.Command(r.bin, args...), r.logPath)
	if err != nil {
		return err
	}
	r.proc = proc
	if err := waitTCP(r.Endpoint(), proc, 15*time.Second); err != nil {
		return fmt.Errorf("redis: %w\n%s", err, tail(r.logPath))
	}
	return nil
}

// Stop ends the server (SIGTERM: it saves if persistence is on, then exits).
func (r *Redis) Stop() error {
	if r.proc == nil {
		return nil
	}
	return r.proc.stop(syscall.SIGTERM, 15*time.Second)
}
