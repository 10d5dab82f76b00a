package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// CORS values of the original app server, sent on every response.
const (
	corsAllowHeaders = "Authorization,Accepts,Content-Type,X-CSRF-Token,X-Requested-With"
	corsAllowMethods = "GET,POST,PUT,DELETE,OPTIONS"
)

// allowed lists the methods the API serves, for preflights and 405s.
const allowed = "HEAD,GET,POST,OPTIONS"

// preflight answers OPTIONS on any path with 200, as the original meant to.
func preflight(w http.ResponseWriter) {
	w.Header().Set("Allow", allowed)
	w.WriteHeader(http.StatusOK)
}

// readOnly are the endpoints that only read (or count a page view): GET
// alone, where a vote also accepts POST.
var readOnly = map[string]bool{"/api/pageviews": true, "/api/hostname": true, "/api/getstats": true, "/api/getvotes": true}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if readOnly[r.URL.Path] {
		w.Header().Set("Allow", "HEAD,GET,OPTIONS")
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: r.Method + " is not allowed on " + r.URL.Path + "; use GET"})
		return
	}
	w.Header().Set("Allow", allowed)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: r.Method + " is not allowed on " + r.URL.Path + "; use GET or POST"})
}

// collapseSlashes turns "//api/getvotes" (what the original UI's production
// build requests, its base URL ending in a slash) into "/api/getvotes", so
// such requests are served instead of redirected by the router.
func collapseSlashes(r *http.Request) *http.Request {
	if !strings.Contains(r.URL.Path, "//") {
		return r
	}
	p := r.URL.Path
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = p, ""
	return r2
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Expose-Headers", HeaderHostname+","+HeaderVersion+","+HeaderBuild)
		h.Set(HeaderHostname, s.id.Hostname)
		h.Set(HeaderVersion, s.id.Version)
		h.Set(HeaderBuild, s.id.Build)
		h.Set("Cache-Control", "no-store")

		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.log.ErrorContext(ctx, "panic", "path", r.URL.Path, "panic", p)
				writeJSON(rec, http.StatusInternalServerError, errorBody{Error: "internal error"})
			}
			level := slog.LevelInfo
			if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
				level = slog.LevelDebug
			}
			s.log.Log(ctx, level, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		if r.Method == http.MethodOptions {
			preflight(rec)
			return
		}
		next.ServeHTTP(rec, collapseSlashes(r.WithContext(ctx)))
	})
}
