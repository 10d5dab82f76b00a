package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eks-canary/yelb-appserver/testenv"
)

// The built binary serves, logs JSON, drains on SIGTERM (readiness fails
// while requests are still answered) and exits 0.
func TestBinaryServesAndShutsDownGracefully(t *testing.T) {
	pg := testenv.StartPostgres(t)
	rd := testenv.StartRedis(t)
	ctx := context.Background()
	schema, err := os.ReadFile("../../testdata/restaurants.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE yelbdatabase"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "yelbdatabase", string(schema)); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(t.TempDir(), "yelb-appserver")
	build := exec.Command("go", "build", "-ldflags", "-X main.buildVersion=test-build-1", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"YELB_DB_SERVER_ENDPOINT="+pg.Endpoint(),
		"YELB_DB_PASSWORD="+pg.Password,
		"REDIS_SERVER_ENDPOINT="+rd.Endpoint(),
		"APP_VERSION=4",
		"SHUTDOWN_DELAY=1500ms",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"not_json": sc.Text()}
			}
			lines <- m
		}
		close(lines)
	}()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _, _ := get("/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("binary never became ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, body, h := get("/api/getstats")
	if code != 200 || !strings.Contains(body, `"version":"4"`) || !strings.Contains(body, `"build":"test-build-1"`) {
		t.Fatalf("getstats = %d %q", code, body)
	}
	if h.Get("X-Yelb-Appserver-Version") != "4" {
		t.Fatalf("version header = %q", h.Get("X-Yelb-Appserver-Version"))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if code, _, _ := get("/readyz"); code != 503 {
		t.Fatalf("readyz while draining = %d, want 503", code)
	}
	if code, body, _ := get("/api/ihop"); code != 200 || body != "1" {
		t.Fatalf("vote while draining = %d %q, want it served", code, body)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}

	var msgs []string
	for m := range lines {
		if _, bad := m["not_json"]; bad {
			t.Fatalf("log line is not JSON: %v", m["not_json"])
		}
		if m["microservice"] != "yelb-appserver" || m["version"] != "4" || m["build"] != "test-build-1" {
			t.Fatalf("log line lacks service identity: %v", m)
		}
		msgs = append(msgs, m["msg"].(string))
	}
	joined := strings.Join(msgs, "|")
	for _, want := range []string{"serving", "request", "shutdown requested; draining", "shutdown complete"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("logs %q lack %q", joined, want)
		}
	}
}
