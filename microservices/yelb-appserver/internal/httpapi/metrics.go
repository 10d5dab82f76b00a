package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The app server's Prometheus series, named as the canary engine's
// Prometheus provider queries them (the platform's contract.PromRequests,
// PromDuration and PromLabelCode; a test there reads these constants). The
// scrape adds the namespace and version labels from the pod.
const (
	MetricRequests = "http_requests_total"
	MetricDuration = "http_request_duration_seconds"
	LabelCode      = "code"
	labelMethod    = "method"
)

// unmeasured are the paths that are not the API's traffic: probes and the
// scrape itself would dilute a canary's error rate.
var unmeasured = map[string]bool{"/metrics": true, "/healthz": true, "/readyz": true}

// metrics counts every API request by response code and times it.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRequests, Help: "API requests by response code."},
			[]string{LabelCode, labelMethod}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricDuration, Help: "API request duration in seconds.",
			Buckets: prometheus.DefBuckets}, []string{LabelCode, labelMethod}),
	}
	m.registry.MustRegister(m.requests, m.duration)
	// The series exist from start-up, so that a new version's first
	// minute counts from zero.
	for _, code := range []string{"200", "500"} {
		m.requests.WithLabelValues(code, "get")
		m.duration.WithLabelValues(code, "get")
	}
	return m
}

// measure counts and times next's answers, probes and scrapes apart.
func (m *metrics) measure(next http.Handler) http.Handler {
	measured := promhttp.InstrumentHandlerCounter(m.requests, promhttp.InstrumentHandlerDuration(m.duration, next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unmeasured[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		measured.ServeHTTP(w, r)
	})
}

// handler serves the series in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
