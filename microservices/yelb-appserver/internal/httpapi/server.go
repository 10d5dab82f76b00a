// Package httpapi is the app server's HTTP surface: the original Yelb API
// (same paths, bodies and CORS headers), votes also by POST, health probes,
// and the headers that tell which pod and version answered.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/eks-canary/yelb-appserver/internal/outage"
	"github.com/eks-canary/yelb-appserver/internal/votes"
)

// VoteStore keeps the restaurant tallies.
type VoteStore interface {
	Vote(ctx context.Context, restaurant string) (int64, error)
	Counts(ctx context.Context) ([]votes.Count, error)
	Ping(ctx context.Context) error
}

// PageViews counts page views.
type PageViews interface {
	Increment(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
}

// Identity is what the server reports about itself so that a canary is
// visible in the UI and in every response.
type Identity struct {
	Hostname string // the pod name
	Version  string // canary version (APP_VERSION)
	Build    string // build stamp of the binary
}

// Response headers naming the pod and version that answered.
const (
	HeaderHostname = "X-Yelb-Appserver-Hostname"
	HeaderVersion  = "X-Yelb-Appserver-Version"
	HeaderBuild    = "X-Yelb-Appserver-Build"
)

// Server serves the API.
type Server struct {
	votes    VoteStore
	views    PageViews
	id       Identity
	log      *slog.Logger
	timeout  time.Duration
	draining atomic.Bool
	metrics  *metrics
}

// New builds a Server; timeout bounds each request's work on the stores.
func New(v VoteStore, p PageViews, id Identity, log *slog.Logger, timeout time.Duration) *Server {
	return &Server{votes: v, views: p, id: id, log: log, timeout: timeout, metrics: newMetrics()}
}

// Drain makes /readyz fail so that load balancers stop sending new requests
// while in-flight ones finish.
func (s *Server) Drain() { s.draining.Store(true) }

// Handler returns the routed handler with CORS, identity headers, logging,
// panic recovery and the request metrics around it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/pageviews", s.pageviews)
	mux.HandleFunc("GET /api/hostname", s.hostname)
	mux.HandleFunc("GET /api/getstats", s.getstats)
	mux.HandleFunc("GET /api/getvotes", s.getvotes)
	for p := range readOnly {
		mux.HandleFunc("POST "+p, methodNotAllowed)
	}
	mux.HandleFunc("GET /api/{restaurant}", s.vote)
	mux.HandleFunc("POST /api/{restaurant}", s.vote)
	mux.HandleFunc("/api/{restaurant}", methodNotAllowed)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return s.metrics.measure(s.middleware(mux))
}

func (s *Server) pageviews(w http.ResponseWriter, r *http.Request) {
	n, err := s.views.Increment(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeText(w, http.StatusOK, "application/json", strconv.FormatInt(n, 10))
}

// hostname answers the bare pod name labelled application/json, exactly as
// the original does.
func (s *Server) hostname(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "application/json", s.id.Hostname)
}

// stats is the original getstats object plus the version fields. Page
// views are null while Redis is out: the page still learns which pod and
// version answered.
type stats struct {
	Hostname  string `json:"hostname"`
	Pageviews *int64 `json:"pageviews"`
	Version   string `json:"version"`
	Build     string `json:"build"`
}

func (s *Server) getstats(w http.ResponseWriter, r *http.Request) {
	st := stats{Hostname: s.id.Hostname, Version: s.id.Version, Build: s.id.Build}
	n, err := s.views.Increment(r.Context())
	switch _, down := outage.As(err); {
	case err == nil:
		st.Pageviews = &n
	case down && r.Context().Err() == nil:
		s.log.WarnContext(r.Context(), "page views unavailable", "path", r.URL.Path, "error", err.Error())
	default:
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) getvotes(w http.ResponseWriter, r *http.Request) {
	counts, err := s.votes.Counts(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeText(w, http.StatusOK, "application/json", votes.JSON(counts))
}

func (s *Server) vote(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("restaurant")
	if !votes.Known(name) {
		writeJSON(w, http.StatusNotFound, errorBody{
			Error:       "unknown restaurant \"" + name + "\"",
			Restaurants: votes.Restaurants,
		})
		return
	}
	n, err := s.votes.Vote(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeText(w, http.StatusOK, "text/plain; charset=utf-8", strconv.FormatInt(n, 10))
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the pod can serve votes, that is when PostgreSQL
// answers: a pod that cannot reach it never receives traffic (and a canary
// that cannot is never promoted). Redis only counts page views, which
// degrade on their own, so a Redis outage is reported but keeps the pod in
// service; otherwise it would take every voting pod out at once.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	redisErr := make(chan error, 1)
	go func() { redisErr <- s.views.Ping(ctx) }()
	dbErr := s.votes.Ping(ctx)
	body := map[string]string{"status": "ready", "postgres": "ok", "redis": "ok"}
	status := http.StatusOK
	if dbErr != nil {
		body["postgres"], body["status"], status = dbErr.Error(), "not ready", http.StatusServiceUnavailable
	}
	if err := <-redisErr; err != nil {
		body["redis"] = "degraded (page views unavailable): " + err.Error()
	}
	writeJSON(w, status, body)
}

type errorBody struct {
	Error       string   `json:"error"`
	Dependency  string   `json:"dependency,omitempty"`
	Restaurants []string `json:"restaurants,omitempty"`
}

// fail answers 503 when a store is unreachable and 500 otherwise; the cause
// goes to the log, not to the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		s.log.InfoContext(r.Context(), "client went away", "path", r.URL.Path)
		return
	}
	if o, ok := outage.As(err); ok {
		s.log.WarnContext(r.Context(), "dependency unavailable", "path", r.URL.Path, "dependency", o.Dependency, "error", err.Error())
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{
			Error:      o.Dependency + " is unavailable; try again shortly",
			Dependency: o.Dependency,
		})
		return
	}
	s.log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "error", err.Error())
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	writeText(w, status, "application/json", string(body))
}

func writeText(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
