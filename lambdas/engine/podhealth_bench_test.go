package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/engine"
)

// BenchmarkPodRestartToStable is the time from the canary's first container
// restart to 100% on the stable version, with analysis.interval 60 s and the
// default pod_check_interval. The restart lands at the start of the first
// wait after the first shift, the worst case: the figure is the wait still
// scheduled after it (one pod check interval, the state machine's Wait,
// taken at no real cost here) plus the engine's real work against the local
// control plane, from the pod check to the restored route.
func BenchmarkPodRestartToStable(b *testing.B) {
	var total, work float64
	for i := range b.N {
		h := newHarness(b)
		h.stable("appmesh", "shop")
		h.metrics.set("shop-2", "healthy")
		input, err := json.Marshal(h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
			d["wait_time"] = 60
			d["analysis"] = map[string]any{"interval": 60}
		}))
		if err != nil {
			b.Fatal(err)
		}
		var restartAt time.Time
		var waited time.Duration
		local := &engine.Local{
			Engine: h.eng,
			Sleep: func(_ context.Context, d time.Duration) error {
				if !restartAt.IsZero() {
					waited += d
				} else if h.weights("appmesh", "shop")["shop-2"] > 0 && h.breakPod("shop-2", restarted("Error", 1, "panic")) != "" {
					restartAt, waited = time.Now(), d
				}
				h.clock.advance(d)
				return nil
			},
		}
		out, err := local.Run(context.Background(), input, h.executionArn("shop", 2))
		if err != nil {
			b.Fatal(err)
		}
		if restartAt.IsZero() || out.Phase != "RolledBack" || !strings.Contains(out.Reason, "restarted") {
			b.Fatalf("rollout %d ended %s (%s), restart at %v", i, out.Phase, out.Reason, restartAt)
		}
		if got := h.weights("appmesh", "shop"); got["shop-1"] != 100 {
			b.Fatalf("route after the roll back %v, want shop-1 at 100", got)
		}
		real := time.Since(restartAt)
		total += (waited + real).Seconds()
		work += float64(real.Milliseconds())
	}
	b.ReportMetric(total/float64(b.N), "restart-to-stable-s")
	b.ReportMetric(work/float64(b.N), "engine-work-ms")
}
