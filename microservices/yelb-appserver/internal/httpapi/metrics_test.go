package httpapi_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eks-canary/yelb-appserver/internal/httpapi"
)

// The scrape sees every API answer by code, and no probe or scrape.
func TestMetricsCountAPIRequestsByCode(t *testing.T) {
	api := httpapi.New(fakeVotes{errors.New("database fault")}, fakeViews{}, httpapi.Identity{Hostname: "h", Version: "2"},
		slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Second).Handler()
	for _, path := range []string{"/api/pageviews", "/api/pageviews", "/api/ihop", "/healthz", "/readyz", "/metrics"} {
		api.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body)
	}
	counts := map[string]float64{}
	for _, m := range families[httpapi.MetricRequests].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == httpapi.LabelCode {
				counts[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	if counts["200"] != 2 || counts["500"] != 1 || len(counts) != 2 {
		t.Errorf("%s by %s = %v, want 2 answers 200 and 1 answer 500 (probes and scrapes not counted)", httpapi.MetricRequests, httpapi.LabelCode, counts)
	}
	var observed uint64
	for _, m := range families[httpapi.MetricDuration].GetMetric() {
		observed += m.GetHistogram().GetSampleCount()
	}
	if observed != 3 {
		t.Errorf("%s observed %d requests, want 3", httpapi.MetricDuration, observed)
	}
}
