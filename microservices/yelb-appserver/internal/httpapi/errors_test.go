package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/yelb-appserver/internal/httpapi"
	"github.com/eks-canary/yelb-appserver/internal/outage"
	"github.com/eks-canary/yelb-appserver/internal/votes"
)

type fakeVotes struct{ err error }

func (f fakeVotes) Vote(context.Context, string) (int64, error)   { return 0, f.err }
func (f fakeVotes) Counts(context.Context) ([]votes.Count, error) { return nil, f.err }
func (f fakeVotes) Ping(context.Context) error                    { return f.err }

type fakeViews struct{ err error }

func (f fakeViews) Increment(context.Context) (int64, error) { return 0, f.err }
func (f fakeViews) Ping(context.Context) error               { return f.err }

func TestFailureStatusDependsOnTheCause(t *testing.T) {
	cases := []struct {
		name       string
		voteErr    error
		viewErr    error
		path       string
		wantStatus int
		wantBody   string
	}{
		{"database outage", outage.New("postgres", errors.New("connection refused")), nil, "/api/ihop", 503, `"dependency":"postgres"`},
		{"redis outage", nil, outage.New("redis", errors.New("EOF")), "/api/pageviews", 503, `"dependency":"redis"`},
		{"redis outage in getstats", nil, outage.New("redis", errors.New("EOF")), "/api/getstats", 200, `"pageviews":null`},
		{"redis fault in getstats", nil, errors.New("WRONGTYPE"), "/api/getstats", 500, `"error":"internal error"`},
		{"wrapped outage", fmtWrap(outage.New("postgres", errors.New("reset"))), nil, "/api/getvotes", 503, "postgres is unavailable"},
		{"database fault", errors.New(`relation "restaurants" does not exist`), nil, "/api/ihop", 500, `"error":"internal error"`},
		{"missing row", votes.ErrMissingRow, nil, "/api/chipotle", 500, `"error":"internal error"`},
		{"redis fault", nil, errors.New("WRONGTYPE"), "/api/pageviews", 500, `"error":"internal error"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			api := httpapi.New(fakeVotes{tc.voteErr}, fakeViews{tc.viewErr}, httpapi.Identity{Hostname: "h", Version: "2"},
				slog.New(slog.NewJSONHandler(&logs, nil)), time.Second)
			rec := httptest.NewRecorder()
			api.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("%s = %d %q, want %d with %q", tc.path, rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if strings.Contains(rec.Body.String(), "restaurants\" does not exist") {
				t.Fatal("internal cause leaked to the client")
			}
			if !strings.Contains(logs.String(), `"path":"`+tc.path+`"`) {
				t.Fatalf("failure not logged with its path: %s", logs.String())
			}
		})
	}
}

func fmtWrap(err error) error { return errors.Join(errors.New("read votes"), err) }

func TestDrainFailsReadinessButKeepsServing(t *testing.T) {
	api := httpapi.New(fakeVotes{}, fakeViews{}, httpapi.Identity{Hostname: "h"}, slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Second)
	h := api.Handler()
	serve := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	if serve("/readyz") != 200 {
		t.Fatal("not ready before drain")
	}
	api.Drain()
	if got := serve("/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining = %d", got)
	}
	if serve("/api/hostname") != 200 || serve("/healthz") != 200 {
		t.Fatal("requests must still be served while draining")
	}
}

func TestRequestLogIsJSONWithStatusAndDuration(t *testing.T) {
	var logs bytes.Buffer
	api := httpapi.New(fakeVotes{}, fakeViews{}, httpapi.Identity{Hostname: "h"}, slog.New(slog.NewJSONHandler(&logs, nil)), time.Second)
	api.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/unknownplace", nil))
	line := logs.String()
	for _, want := range []string{`"msg":"request"`, `"path":"/api/unknownplace"`, `"status":404`, `"duration_ms":`} {
		if !strings.Contains(line, want) {
			t.Fatalf("log %q lacks %s", line, want)
		}
	}
}
