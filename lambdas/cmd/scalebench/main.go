// Command scalebench runs many rollouts at once on one local control plane,
// as many teams sharing one namespace and one engine would, and checks that
// each ends as it should: the healthy canaries promoted, the failing ones
// rolled back, one Deployment per microservice afterwards and no lock left
// behind. It prints the wall time, the API requests and the engine's memory
// per rollout. `make scale` runs it; it takes minutes, so `make test` does not.
package main

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/analysis/synthetic"
	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/status"
)

//go:embed template.yml
var template []byte

const namespace = "scale"

func main() {
	rollouts := flag.Int("rollouts", 500, "rollouts to run at once")
	failing := flag.Int("failing", 100, "how many of them have a failing canary")
	speed := flag.Float64("speed", 9, "run the schedule this many times faster than deploy.json says (the 90 s Gateway API steps take 10 s)")
	binDir := flag.String("bin-dir", "", "folder of the control plane binaries (default: the folder scripts/build-control-plane.sh builds)")
	flag.Parse()
	if *rollouts < 1 || *failing < 0 || *failing > *rollouts || *speed <= 0 {
		fmt.Fprintln(os.Stderr, "scalebench: want --rollouts ≥ 1, 0 ≤ --failing ≤ --rollouts and --speed > 0")
		os.Exit(2)
	}
	if err := run(*rollouts, *failing, *speed, *binDir); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

func run(n, failing int, speed float64, binDir string) error {
	ctx := context.Background()
	began := time.Now()
	plane, err := testcluster.New(testcluster.Options{BinDir: binDir})
	if err != nil {
		return err
	}
	defer plane.Stop()
	fmt.Printf("control plane up in %s\n", plane.StartupTime.Round(time.Millisecond))
	if err := prepare(ctx, plane); err != nil {
		return err
	}

	cfg := rest.CopyConfig(plane.Config)
	// In AWS every Lambda instance has its own client; here one client
	// carries every rollout, so it must not throttle them.
	cfg.QPS = -1
	calls := &counter{}
	cfg.Wrap(calls.wrap)
	services := make([]string, n)
	modes := map[string]string{}
	for i := range services {
		services[i] = fmt.Sprintf("svc-%03d", i)
		modes[naming.VersionName(services[i], 1)] = synthetic.Healthy
		modes[naming.VersionName(services[i], 2)] = synthetic.Healthy
		if i < failing {
			modes[naming.VersionName(services[i], 2)] = synthetic.Failing
		}
	}
	speedup := &engine.Speedup{From: time.Now(), Factor: speed}
	eng := &engine.Engine{
		Connector:     &engine.RESTConnector{Source: func(context.Context, string) (*rest.Config, error) { return cfg, nil }},
		Routers:       routers.All(),
		Metrics:       byVersion{modes: modes, pace: speed},
		Log:           slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Speedup:       speedup,
		ServiceDomain: "scale.internal",
	}
	local := &engine.Local{Engine: eng, Sleep: speedup.Sleep}

	install := runAll(ctx, local, services, 1)
	if bad := install.unexpected(func(string) string { return status.PhaseSucceeded }); len(bad) > 0 {
		return fmt.Errorf("installing version 1: %d of %d did not succeed:\n  %s", len(bad), n, strings.Join(bad, "\n  "))
	}
	fmt.Printf("installed version 1 of %d microservices in %s\n", n, install.took.Round(time.Millisecond))

	before := heap()
	calls.reset()
	mem := sampleMemory()
	res := runAll(ctx, local, services, 2)
	peak, goroutines := mem.stop()
	reads, writes := calls.totals()

	want := func(svc string) string {
		if modes[naming.VersionName(svc, 2)] == synthetic.Failing {
			return status.PhaseRolledBack
		}
		return status.PhaseSucceeded
	}
	problems := res.unexpected(want)
	problems = append(problems, leftovers(ctx, plane, services, want)...)
	promoted, rolledBack := res.count(status.PhaseSucceeded), res.count(status.PhaseRolledBack)
	fmt.Printf("%d concurrent rollouts (%d failing, schedule sped up %g times): %d promoted, %d rolled back, %d errors in %s\n",
		n, failing, speed, promoted, rolledBack, res.errors, res.took.Round(time.Millisecond))
	fmt.Printf("rollout wall time: median %s, max %s\n", res.quantile(0.5).Round(time.Millisecond), res.quantile(1).Round(time.Millisecond))
	fmt.Printf("API requests: %d reads, %d writes (%.1f and %.1f per rollout)\n", reads, writes, float64(reads)/float64(n), float64(writes)/float64(n))
	fmt.Printf("engine memory: %.1f MiB heap at the peak over %.1f MiB before, %.1f KiB per rollout; %d goroutines at the peak\n",
		mib(peak), mib(before), float64(peak-min(peak, before))/1024/float64(n), goroutines)
	fmt.Printf("whole run, control plane included: %s\n", time.Since(began).Round(time.Second))
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Println("every rollout ended as expected: one Deployment per microservice, no lease left")
	return nil
}

// prepare gives the namespace what the environment program creates: the
// Gateway the templates' routes attach to.
func prepare(ctx context.Context, plane *testcluster.Cluster) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := plane.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	gw := testcluster.Gateway(namespace)
	if _, err := plane.Dynamic.Resource(testcluster.GatewayResource).Namespace(namespace).Create(ctx, gw, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create Gateway %s: %w", contract.GatewayName, err)
	}
	return nil
}

func deployJSON(svc string, version int) ([]byte, error) {
	return json.Marshal(map[string]any{
		"cluster_name": "local", "kubernetes_namespace": namespace, "microservice_name": svc,
		"container_image": fmt.Sprintf("registry.local/%s:%d", svc, version),
		"config_file":     base64.StdEncoding.EncodeToString(template), "router": contract.RouterGatewayAPI,
		"percentage_step": 50, "wait_time": 90, "failure_threshold_value": 0, "failure_threshold_time": 60,
		"progress_deadline": 3600,
		"analysis":          map[string]any{"interval": 90, "consecutive_failure_limit": 1},
	})
}

// results are the outcomes of one round of rollouts, by microservice.
type results struct {
	phases  map[string]string
	reasons map[string]string
	fails   map[string]string
	took    time.Duration
	each    []time.Duration
	errors  int
}

func runAll(ctx context.Context, local *engine.Local, services []string, version int) results {
	res := results{phases: map[string]string{}, reasons: map[string]string{}, fails: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	began := time.Now()
	for _, svc := range services {
		wg.Go(func() {
			start := time.Now()
			out, err := runOne(ctx, local, svc, version)
			mu.Lock()
			defer mu.Unlock()
			res.each = append(res.each, time.Since(start))
			res.phases[svc], res.reasons[svc] = out.Phase, out.Reason
			if err != nil {
				res.errors++
				res.fails[svc] = err.Error()
			}
		})
	}
	wg.Wait()
	res.took = time.Since(began)
	slices.Sort(res.each)
	return res
}

func runOne(ctx context.Context, local *engine.Local, svc string, version int) (engine.Outcome, error) {
	d, err := deployJSON(svc, version)
	if err != nil {
		return engine.Outcome{}, err
	}
	return local.Run(ctx, d, fmt.Sprintf("scale:%s:%d", svc, version))
}

// unexpected lists each rollout that failed with an error or ended in
// another phase than want says.
func (r results) unexpected(want func(svc string) string) []string {
	var out []string
	for svc, phase := range r.phases {
		switch {
		case r.fails[svc] != "":
			out = append(out, fmt.Sprintf("%s: %s", svc, r.fails[svc]))
		case phase != want(svc):
			out = append(out, fmt.Sprintf("%s: ended %s, want %s: %s", svc, phase, want(svc), r.reasons[svc]))
		}
	}
	sort.Strings(out)
	return out
}

func (r results) count(phase string) int {
	n := 0
	for _, p := range r.phases {
		if p == phase {
			n++
		}
	}
	return n
}

func (r results) quantile(q float64) time.Duration {
	if len(r.each) == 0 {
		return 0
	}
	return r.each[int(q*float64(len(r.each)-1))]
}

// leftovers checks what the cluster holds afterwards: each microservice
// runs the one version it should, its status says so, and no lease is left.
func leftovers(ctx context.Context, plane *testcluster.Cluster, services []string, want func(string) string) []string {
	var out []string
	deps, err := plane.Clientset.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{fmt.Sprintf("list Deployments: %v", err)}
	}
	running := map[string][]string{}
	for _, d := range deps.Items {
		running[d.Spec.Template.Labels["app"]] = append(running[d.Spec.Template.Labels["app"]], d.Name)
	}
	statuses := status.NewEngine(plane.Clientset, namespace)
	for _, svc := range services {
		version := 2
		if want(svc) == status.PhaseRolledBack {
			version = 1
		}
		if got, keep := running[svc], naming.VersionName(svc, version); !slices.Equal(got, []string{keep}) {
			out = append(out, fmt.Sprintf("%s: Deployments %v, want only %s", svc, got, keep))
		}
		snap, found, err := statuses.Load(ctx, svc)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s: read status: %v", svc, err))
		case !found:
			out = append(out, fmt.Sprintf("%s: no status", svc))
		case snap.Status.Phase != want(svc) || snap.Status.StableVersion != version:
			out = append(out, fmt.Sprintf("%s: status %s with stable v%d, want %s with stable v%d", svc, snap.Status.Phase, snap.Status.StableVersion, want(svc), version))
		}
	}
	leases, err := plane.Clientset.CoordinationV1().Leases(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return append(out, fmt.Sprintf("list Leases: %v", err))
	}
	for _, l := range leases.Items {
		out = append(out, fmt.Sprintf("lease %s left behind", l.Name))
	}
	return out
}

// byVersion answers each version's queries in its synthetic mode, with
// traffic keeping up with the sped-up schedule.
type byVersion struct {
	modes map[string]string
	pace  float64
}

func (b byVersion) Fetch(ctx context.Context, q analysis.Query) (analysis.Metrics, error) {
	mode, ok := b.modes[q.Canary]
	if !ok {
		return analysis.Metrics{}, fmt.Errorf("no synthetic metrics for %s", q.Canary)
	}
	return (&synthetic.Provider{Mode: mode, RequestsPerMin: 120, Pace: b.pace}).Fetch(ctx, q)
}

// counter counts the engine's API requests: reads (GET, LIST, WATCH) and
// writes (everything else).
type counter struct{ reads, writes atomic.Int64 }

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet {
			c.reads.Add(1)
		} else {
			c.writes.Add(1)
		}
		return rt.RoundTrip(req)
	})
}

func (c *counter) reset()                 { c.reads.Store(0); c.writes.Store(0) }
func (c *counter) totals() (int64, int64) { return c.reads.Load(), c.writes.Load() }

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// memory samples the heap in use and the goroutines until stopped, and
// keeps the highest of each.
type memory struct {
	done       chan struct{}
	wg         sync.WaitGroup
	peak       uint64
	goroutines int
}

func sampleMemory() *memory {
	m := &memory{done: make(chan struct{})}
	m.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var s runtime.MemStats
			runtime.ReadMemStats(&s)
			m.peak = max(m.peak, s.HeapInuse)
			m.goroutines = max(m.goroutines, runtime.NumGoroutine())
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
		}
	})
	return m
}

func (m *memory) stop() (uint64, int) {
	close(m.done)
	m.wg.Wait()
	return m.peak, m.goroutines
}

// heap is the heap in use after a collection.
func heap() uint64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return s.HeapInuse
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
