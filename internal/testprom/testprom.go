// Package testprom runs a real Prometheus server (Debian's package) for
// tests, on 127.0.0.1, scraping the targets a test gives it.
package testprom

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ScrapeInterval is how often the server scrapes its targets: short, so
// that a test of a few seconds holds many samples.
const ScrapeInterval = 250 * time.Millisecond

// Target is one scraped endpoint and the labels the scrape gives its
// series, as a Kubernetes scrape's relabelling gives them from the pod.
type Target struct {
	Address string // host:port serving /metrics
	Labels  map[string]string
}

// Server is a running Prometheus.
type Server struct {
	URL string // base URL of the query API
}

// Binary finds Prometheus: $PROMETHEUS_BIN, prometheus on PATH, or the
// binary scripts/install-test-deps.sh unpacks from Debian's package into
// the cache ($CANARY_CACHE, by default ~/.cache/canary-platform).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROMETHEUS_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	cache := os.Getenv("CANARY_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("find the cache: %v", err)
		}
		cache = filepath.Join(home, ".cache", "canary-platform")
	}
	p := filepath.Join(cache, "prometheus", "usr", "bin", "prometheus")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("prometheus not found at %s or on PATH; run scripts/install-test-deps.sh (it unpacks Debian's package) or set PROMETHEUS_BIN", p)
	}
	return p
}

// Start runs a Prometheus that scrapes targets until the test ends, and
// waits until it has scraped every one of them: its discovery hands the
// targets over only seconds after the server is ready.
func Start(t testing.TB, targets []Target) *Server {
	t.Helper()
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\nscrape_configs:\n  - job_name: test\n    static_configs:\n",
		ScrapeInterval, ScrapeInterval*4/5)
	for _, target := range targets {
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels:\n", target.Address)
		for k, v := range target.Labels {
			fmt.Fprintf(&cfg, "          %s: %q\n", k, v)
		}
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, Binary(t), "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logFile.Close()
	})
	s := &Server{URL: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		up, err := s.targetsUp()
		if err == nil && up == len(targets) {
			return s
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("prometheus at %s scraped %d of %d targets after 30 s (%v)\n%s", addr, up, len(targets), err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// targetsUp counts the targets whose last scrape succeeded.
func (s *Server) targetsUp() (int, error) {
	resp, err := http.Get(s.URL + "/api/v1/query?query=" + url.QueryEscape("up == 1"))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("query up: %w", err)
	}
	return len(body.Data.Result), nil
}

// freeAddress is a loopback address no one listens on.
func freeAddress(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
