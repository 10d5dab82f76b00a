package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/yelb-appserver/internal/app"
	"github.com/eks-canary/yelb-appserver/internal/config"
	"github.com/eks-canary/yelb-appserver/internal/httpapi"
	"github.com/eks-canary/yelb-appserver/internal/pageviews"
	"github.com/eks-canary/yelb-appserver/internal/votes"
	"github.com/eks-canary/yelb-appserver/testenv"
)

// stack is the API served by httptest over a real PostgreSQL and Redis.
type stack struct {
	url   string
	pg    *testenv.Postgres
	redis *testenv.Redis
}

func newStack(tb testing.TB) *stack {
	tb.Helper()
	pg := testenv.StartPostgres(tb)
	rd := testenv.StartRedis(tb)
	ctx := context.Background()
	schema, err := os.ReadFile("../../testdata/restaurants.sql")
	if err != nil {
		tb.Fatal(err)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE yelbdatabase"); err != nil {
		tb.Fatal(err)
	}
	if err := pg.Exec(ctx, "yelbdatabase", string(schema)); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"YELB_DB_SERVER_ENDPOINT": pg.Endpoint(),
			"REDIS_SERVER_ENDPOINT":   rd.Endpoint(),
			"YELB_DB_PASSWORD":        pg.Password,
			"YELB_DB_MAX_CONNS":       "20",
			"APP_VERSION":             "7",
			"REQUEST_TIMEOUT":         "3s",
		}[k]
	}, "build-abc")
	if err != nil {
		tb.Fatal(err)
	}
	pool, err := app.OpenPostgres(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	rdb := app.OpenRedis(cfg)
	tb.Cleanup(func() { rdb.Close() })
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	api := httpapi.New(votes.NewStore(pool), pageviews.NewCounter(rdb),
		httpapi.Identity{Hostname: "yelb-appserver-7-abcde", Version: cfg.AppVersion, Build: cfg.BuildVersion}, log, cfg.RequestTimeout)
	srv := httptest.NewServer(api.Handler())
	tb.Cleanup(srv.Close)
	return &stack{url: srv.URL, pg: pg, redis: rd}
}

type reply struct {
	status int
	body   string
	header http.Header
}

// client does not follow redirects, so a test sees a 307 as a 307.
var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func call(tb testing.TB, method, url string) reply {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return reply{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// eventually polls f until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := f()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last: %s", what, timeout, strings.TrimSpace(last))
}
