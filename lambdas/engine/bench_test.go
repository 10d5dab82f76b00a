package engine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
)

// timedLocal runs rollouts in-process and separates the engine's own work
// from the schedule it asks to wait.
type timedLocal struct {
	h        *harness
	schedule time.Duration // sum of requested waits
	work     time.Duration // time spent in handlers
	runs     int64         // executions started, which name the next one
}

func (tl *timedLocal) run(b *testing.B, input map[string]any) engine.Outcome {
	raw, err := json.Marshal(input)
	if err != nil {
		b.Fatal(err)
	}
	local := &engine.Local{
		Engine: tl.h.eng,
		Sleep: func(_ context.Context, d time.Duration) error {
			tl.schedule += d
			tl.h.clock.advance(d)
			return nil
		},
	}
	began := time.Now()
	tl.runs++
	out, err := local.Run(context.Background(), raw, tl.h.executionArn("shop", tl.runs))
	if err != nil {
		b.Fatal(err)
	}
	tl.work += time.Since(began)
	return out
}

// BenchmarkShiftStep is one traffic step's control work: the Shift handler
// against the local API server (render, apply the route, write the status).
func BenchmarkShiftStep(b *testing.B) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		b.Run(router, func(b *testing.B) {
			h := newHarness(b)
			st := prepareShift(b, h, router)
			execution := h.executionArn("shop", 2)
			benchStep(b, h, statemachine.ActionShift, execution, st, true)
		})
	}
}

// BenchmarkCheckStep is one healthy check between analyses that finds
// nothing changed: the Check handler against the local API server. The
// checks before it catch up with the shift; the last of them writes
// nothing, so the API server's watch cache, which a list right after a
// write waits for, has caught up as well.
func BenchmarkCheckStep(b *testing.B) {
	for _, router := range []string{"appmesh", "gatewayapi"} {
		b.Run(router, func(b *testing.B) {
			h := newHarness(b)
			execution := h.executionArn("shop", 2)
			st := prepareShift(b, h, router)
			for _, action := range []string{statemachine.ActionShift, statemachine.ActionCheck, statemachine.ActionCheck} {
				out, err := h.eng.Handle(context.Background(), engine.Event{Action: action, Execution: execution, State: st})
				if err != nil {
					b.Fatalf("%s: %v", action, err)
				}
				st = out
			}
			benchStep(b, h, statemachine.ActionCheck, execution, st, false)
		})
	}
}

// benchStep runs action b.N times and reports, per run, the API server
// requests, the time spent waiting for their answers, the rest of the time
// (the engine's own work) and the engine's CPU. Chained, each run starts from the state the one
// before returned, as the state machine passes it on; otherwise every run
// starts from st.
func benchStep(b *testing.B, h *harness, action, execution string, st json.RawMessage, chained bool) {
	b.Helper()
	ctx := context.Background()
	var reads, writes atomic.Int64
	h.faults.seen = func(req *http.Request, _ int, _ []byte) {
		if req.Method == http.MethodGet {
			reads.Add(1)
		} else {
			writes.Add(1)
		}
		if testing.Verbose() {
			b.Logf("%s %s", req.Method, req.URL.Path)
		}
	}
	waited := h.faults.serverTime()
	cpu := processCPU()
	began := time.Now()
	b.ResetTimer()
	for range b.N {
		out, err := h.eng.Handle(ctx, engine.Event{Action: action, Execution: execution, State: st})
		if err != nil {
			b.Fatal(err)
		}
		if chained {
			st = out
		}
	}
	b.StopTimer()
	took := time.Since(began)
	server := h.faults.serverTime() - waited
	b.ReportMetric(float64(server)/float64(b.N)/1e6, "api-wait-ms/op")
	b.ReportMetric(float64(took-server)/float64(b.N)/1e6, "engine-ms/op")
	// The engine's own work, apart from waiting on the API server and
	// etcd (separate processes).
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e6, "engine-cpu-ms/op")
	b.ReportMetric(float64(reads.Load())/float64(b.N), "api-reads/op")
	b.ReportMetric(float64(writes.Load())/float64(b.N), "api-writes/op")
}

// prepareShift brings a canary to the point of its first traffic step.
func prepareShift(tb testing.TB, h *harness, router string) json.RawMessage {
	tb.Helper()
	h.metrics.set("shop-1", "healthy")
	input, err := json.Marshal(h.deployJSON(router, "shop", "registry.local/shop:1", nil))
	if err != nil {
		tb.Fatal(err)
	}
	// The engine reads the harness clock: each wait must move it, or the
	// checks between analyses wait for a time that never comes.
	local := &engine.Local{Engine: h.eng, Sleep: func(_ context.Context, d time.Duration) error {
		h.clock.advance(d)
		return nil
	}}
	if _, err := local.Run(context.Background(), input, h.executionArn("shop", 1)); err != nil {
		tb.Fatal(err)
	}
	return readyToShift(tb, h, router, "registry.local/shop:2", h.executionArn("shop", 2))
}

// readyToShift runs a rollout of image up to its first traffic step.
func readyToShift(tb testing.TB, h *harness, router, image, execution string) json.RawMessage {
	tb.Helper()
	ctx := context.Background()
	state, err := json.Marshal(h.deployJSON(router, "shop", image, nil))
	if err != nil {
		tb.Fatal(err)
	}
	for _, action := range []string{statemachine.ActionValidate, statemachine.ActionLock, statemachine.ActionDeploy} {
		out, err := h.eng.Handle(ctx, engine.Event{Action: action, Execution: execution, State: state})
		if err != nil {
			tb.Fatalf("%s: %v", action, err)
		}
		state = out
	}
	for {
		out, err := h.eng.Handle(ctx, engine.Event{Action: statemachine.ActionReady, Execution: execution, State: state})
		if err != nil {
			tb.Fatal(err)
		}
		state = out
		var st engine.State
		if err := json.Unmarshal(out, &st); err != nil {
			tb.Fatal(err)
		}
		if st.Rollout.Ready {
			return state
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkTenStepRollout reports the engine's control work as a share of a
// 10-step schedule (10% steps, 60 s each) and the time from the first
// failing analysis to traffic back on the stable version.
func BenchmarkTenStepRollout(b *testing.B) {
	var overhead, rollback float64
	for i := range b.N {
		h := newHarness(b)
		tl := &timedLocal{h: h}
		h.metrics.set("shop-1", "healthy")
		tl.run(b, h.deployJSON("appmesh", "shop", "registry.local/shop:1", nil))
		tl.schedule, tl.work = 0, 0
		h.metrics.set("shop-2", "healthy")
		out := tl.run(b, h.deployJSON("appmesh", "shop", "registry.local/shop:2", func(d map[string]any) {
			d["percentage_step"] = 10
		}))
		if out.Phase != "Succeeded" {
			b.Fatalf("rollout %d ended %s: %s", i, out.Phase, out.Reason)
		}
		overhead += float64(tl.work) / float64(tl.schedule)

		h.metrics.set("shop-3", "failing")
		first := &firstFetch{Provider: h.metrics, canary: "shop-3"}
		h.eng.Metrics = first
		rb := &timedLocal{h: h}
		out = rb.run(b, h.deployJSON("appmesh", "shop", "registry.local/shop:3", func(d map[string]any) {
			d["analysis"] = map[string]any{"interval": 30, "consecutive_failure_limit": 1}
		}))
		if out.Phase != "RolledBack" {
			b.Fatalf("failing canary ended %s", out.Phase)
		}
		rollback += float64(time.Since(first.at))
	}
	b.ReportMetric(100*overhead/float64(b.N), "overhead-%")
	b.ReportMetric(rollback/float64(b.N)/1e6, "rollout-to-rollback-ms")
}

// firstFetch notes when the analysis of canary first asks for metrics: the
// start of the failing analysis that triggers the roll back.
type firstFetch struct {
	analysis.Provider
	canary string
	at     time.Time
}

func (f *firstFetch) Fetch(ctx context.Context, q analysis.Query) (analysis.Metrics, error) {
	if q.Canary == f.canary && f.at.IsZero() {
		f.at = time.Now()
	}
	return f.Provider.Fetch(ctx, q)
}

// processCPU is the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
