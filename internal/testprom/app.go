package testprom

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eks-canary/platform/lambdas/contract"
)

// App is one version of a service, instrumented with the standard client
// library under the names the engine queries, as the Yelb app server is.
type App struct {
	srv           *httptest.Server
	Sent, Failed  atomic.Int64
	errorFraction float64
	delay         time.Duration
}

// StartApp serves requests that take delay and fail (500) at random with
// errorFraction, until the test ends.
func StartApp(t testing.TB, errorFraction float64, delay time.Duration) *App {
	t.Helper()
	a := &App{errorFraction: errorFraction, delay: delay}
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: contract.PromRequests, Help: "HTTP requests by response code."},
		[]string{contract.PromLabelCode, "method"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: contract.PromDuration, Help: "HTTP request duration.",
		Buckets: prometheus.DefBuckets}, []string{contract.PromLabelCode, "method"})
	reg.MustRegister(requests, duration)
	// Series that exist from the start: increase() counts from zero.
	for _, code := range []string{"200", "500"} {
		requests.WithLabelValues(code, "get")
		duration.WithLabelValues(code, "get")
	}
	work := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(a.delay)
		if rand.Float64() < a.errorFraction {
			a.Failed.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", promhttp.InstrumentHandlerCounter(requests, promhttp.InstrumentHandlerDuration(duration, work)))
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// Address is the host:port to scrape.
func (a *App) Address() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// Drive sends each app steady traffic, four requests at a time, until
// stop is closed or until (a zero time: no limit).
func Drive(t testing.TB, stop <-chan struct{}, until time.Time, apps ...*App) {
	t.Helper()
	var wg sync.WaitGroup
	for _, a := range apps {
		for range 4 {
			wg.Go(func() {
				for until.IsZero() || time.Now().Before(until) {
					select {
					case <-stop:
						return
					default:
					}
					resp, err := http.Get(a.srv.URL + "/api/vote")
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					a.Sent.Add(1)
				}
			})
		}
	}
	wg.Wait()
}
