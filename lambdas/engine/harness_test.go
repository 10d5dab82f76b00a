package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/internal/asl"
	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/analysis"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/router/routers"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/status"
)

// The control plane and the interpreter start with the first test that
// needs them, once per package run, so the pure tests run without etcd or
// Node.
var (
	shared testcluster.Shared

	interpreterOnce sync.Once
	interpreter     *asl.Interpreter
	interpreterErr  error
)

func TestMain(m *testing.M) {
	code := shared.Main(m)
	if interpreter != nil {
		interpreter.Close()
	}
	os.Exit(code)
}

func stateMachine(t testing.TB) *asl.Interpreter {
	t.Helper()
	interpreterOnce.Do(func() { interpreter, interpreterErr = asl.NewInterpreter() })
	if interpreterErr != nil {
		t.Fatalf("start the state machine interpreter: %v", interpreterErr)
	}
	return interpreter
}

// clock is the engine's time: each Wait of the state machine (run at 0 ms
// by the interpreter) moves it forward by the seconds the Wait asked for.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// metrics answers per canary version: healthy, failing or no data.
type metrics struct {
	mu    sync.Mutex
	modes map[string]string // canary object name -> mode
}

func (m *metrics) set(canary, mode string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.modes[canary] = mode
}

func (m *metrics) Fetch(_ context.Context, q analysis.Query) (analysis.Metrics, error) {
	m.mu.Lock()
	mode := m.modes[q.Canary]
	m.mu.Unlock()
	n := max(1, int(math.Ceil(q.End.Sub(q.Start).Minutes())))
	var out analysis.Metrics
	if mode == "nodata" {
		return out, nil
	}
	errRate := 0.0
	if mode == "failing" {
		errRate = 0.25
	}
	out.Canary = series(n, 100, errRate)
	if q.Baseline != "" {
		out.Baseline = series(n, 100, 0)
	}
	return out, nil
}

func series(n int, req, errRate float64) analysis.Series {
	s := analysis.Series{}
	for range n {
		s.Requests = append(s.Requests, req)
		s.Errors = append(s.Errors, math.Round(req*errRate))
		s.LatencyP99 = append(s.LatencyP99, 50)
	}
	return s
}

// faults fails API requests that match, as a flaky or hostile API server would.
type faults struct {
	mu    sync.Mutex
	rules []fault
	// before runs once, ahead of the first request it matches.
	before func(*http.Request) bool
	// seen, when set, is shown every answer of the API server.
	seen func(req *http.Request, code int, body []byte)
	// inFlight and waited measure the time at least one request was
	// waiting for the API server's answer: what a step spends on the
	// server, apart from the engine's own work.
	inFlight int
	since    time.Time
	waited   time.Duration
}

// wait marks a request sent (+1) or answered (-1).
func (f *faults) wait(delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inFlight == 0 {
		f.since = time.Now()
	}
	if f.inFlight += delta; f.inFlight == 0 {
		f.waited += time.Since(f.since)
	}
}

// serverTime is the total time spent waiting for the API server so far.
func (f *faults) serverTime() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waited
}

type fault struct {
	method, pathPart string
	code             int
	times            int // how many matching requests fail
}

func (f *faults) add(method, pathPart string, code, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, fault{method, pathPart, code, times})
}

// clear removes every rule: the API server is healthy again.
func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

func (f *faults) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		f.mu.Lock()
		before := f.before
		f.mu.Unlock()
		if before != nil && before(req) {
			f.mu.Lock()
			f.before = nil
			f.mu.Unlock()
		}
		f.mu.Lock()
		for i := range f.rules {
			r := &f.rules[i]
			if r.times > 0 && req.Method == r.method && strings.Contains(req.URL.Path, r.pathPart) {
				r.times--
				f.mu.Unlock()
				body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected fault","code":%d}`, r.code)
				return &http.Response{StatusCode: r.code, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
			}
		}
		seen := f.seen
		f.mu.Unlock()
		f.wait(+1)
		res, err := next.RoundTrip(req)
		if err != nil {
			f.wait(-1)
			return res, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		f.wait(-1)
		if err != nil {
			return nil, err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		if seen != nil {
			seen(req, res.StatusCode, body)
		}
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// notices records what would be published.
type notices struct {
	mu  sync.Mutex
	got []engine.Notice
}

func (n *notices) Notify(_ context.Context, x engine.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, x)
	return nil
}

// harness is one namespace, one engine and the real state machine.
type harness struct {
	t          testing.TB
	plane      *testcluster.Cluster
	interp     *asl.Interpreter
	ns         string
	clock      *clock
	metrics    *metrics
	faults     *faults
	notices    *notices
	eng        *engine.Engine
	definition string
	// hook, when set, runs before every Task; tests use it to stop mid-run.
	hook func(state string, payload json.RawMessage)
	// function answers "Invoke hook function", as a Lambda hook would.
	function func(payload json.RawMessage) (json.RawMessage, error)
	seq      atomic.Int64
	// rec collects what the parity test compares; nil outside it.
	rec *harnessRecord
	// local: the parity test chose the local runner for this harness.
	local bool
}

var routerSet = routers.All()

func newHarness(t testing.TB) *harness {
	t.Helper()
	plane := shared.Get(t)
	h := &harness{
		t:       t,
		plane:   plane,
		interp:  stateMachine(t),
		ns:      plane.Namespace(t),
		clock:   &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		metrics: &metrics{modes: map[string]string{}},
		faults:  &faults{},
		notices: &notices{},
	}
	cfg := rest.CopyConfig(plane.Config)
	cfg.Wrap(h.faults.wrap)
	h.eng = &engine.Engine{
		ServiceDomain: serviceDomain,
		Connector:     &engine.RESTConnector{Source: func(context.Context, string) (*rest.Config, error) { return cfg, nil }},
		Routers:       routerSet,
		Metrics:       h.metrics,
		Notifier:      h.notices,
		Log:           slog.New(slog.NewJSONHandler(testWriter{t}, nil)),
		Now:           h.clock.Now,
		// The rollback entry point's backoff, like the interpreter's Retry
		// intervals, takes no real time.
		Sleep:              func(context.Context, time.Duration) error { return nil },
		PipelineExecutions: true,
		HookClient:         webhookClient,
	}
	var err error
	h.definition, err = statemachine.Definition(statemachine.Config{
		FunctionArn: "arn:aws:lambda:us-west-2:123456789012:function:canary-engine", TimeoutSeconds: 6 * 3600,
	})
	if err != nil {
		t.Fatal(err)
	}
	runner := parityRunnerOf(t)
	h.rec, h.local = runner.harness(h), runner.local()
	// App Mesh pods run as this account in the environment.
	_, err = plane.Clientset.CoreV1().ServiceAccounts(h.ns).Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "appmesh-envoy"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// deployJSON is deploy.json as a build writes it.
func (h *harness) deployJSON(router, svc, image string, change func(map[string]any)) map[string]any {
	tmpl, err := os.ReadFile("testdata/" + router + ".yml")
	if err != nil {
		h.t.Fatal(err)
	}
	d := map[string]any{
		"cluster_name":            "local",
		"kubernetes_namespace":    h.ns,
		"microservice_name":       svc,
		"percentage_step":         25,
		"wait_time":               60,
		"failure_threshold_value": 0,
		"failure_threshold_time":  300,
		"container_image":         image,
		"config_file":             base64.StdEncoding.EncodeToString(tmpl),
		"router":                  router,
		"analysis":                map[string]any{"interval": 30},
	}
	if router == "gatewayapi" {
		d["wait_time"] = 90
		d["analysis"] = map[string]any{"interval": 90}
	}
	if change != nil {
		change(d)
	}
	return d
}

func (h *harness) invoke(ctx context.Context, state string, payload json.RawMessage) (json.RawMessage, error) {
	if state == statemachine.StateReady {
		// The runners skip "Wait for pods" while the engine's clock moves
		// on; let the control plane catch up first, or a loaded machine
		// would reach progress_deadline before the pods could start (and a
		// fault injected here would find no pod to break).
		h.settle(ctx)
	}
	if h.hook != nil {
		h.hook(state, payload)
	}
	if state == statemachine.StateInvokeHook {
		if h.function == nil {
			return nil, fmt.Errorf("the test bound no Lambda hook function")
		}
		return h.function(payload)
	}
	var ev engine.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	// Only these Tasks follow a Wait: "Wait for pods" before the readiness
	// poll, "Wait for analysis" before a check.
	if state == statemachine.StateCheck || state == statemachine.StateReady {
		var st struct {
			Rollout struct {
				WaitSeconds  int       `json:"wait_seconds"`
				CheckSeconds int       `json:"check_seconds"`
				ScalingSince time.Time `json:"scaling_since"`
			} `json:"rollout"`
		}
		if err := json.Unmarshal(ev.State, &st); err == nil {
			wait := st.Rollout.WaitSeconds
			if state == statemachine.StateCheck {
				wait = st.Rollout.CheckSeconds
				if !st.Rollout.ScalingSince.IsZero() {
					h.settle(ctx) // a shift waits for the replicas a scale-up adds, as at "Wait until ready"
				}
			}
			h.clock.advance(h.eng.Speedup.Wait(time.Duration(wait) * time.Second))
		}
	}
	return h.eng.Handle(ctx, ev)
}

// reach waits until a hook closes reached, and fails the test if the
// execution ends first.
func (h *harness) reach(reached <-chan struct{}, x execution, what string) {
	h.t.Helper()
	ended := make(chan asl.Result, 1)
	go func() { ended <- x.Wait() }()
	select {
	case <-reached:
	case res := <-ended:
		h.t.Fatalf("the execution ended before %s: %s %s: %s; states %q", what, res.Status, res.Error, res.Cause, res.Entered())
	}
}

// execution is one rollout under way, in either runner.
type execution interface {
	Abort() error
	Wait() asl.Result
}

// start begins an execution of deploy.json with the runner the parity test
// chose: the definition in the ASL interpreter, or the local runner.
func (h *harness) start(input map[string]any) (execution, string) {
	return h.startWith(h.local, input)
}

func (h *harness) startWith(local bool, input map[string]any) (execution, string) {
	svc, _ := input["microservice_name"].(string)
	return h.startNamed(local, svc, input)
}

// startFromPipelineOf starts deploy.json as the pipeline of microservice
// svc would, whatever microservice deploy.json names.
func (h *harness) startFromPipelineOf(svc string, input map[string]any) (execution, string) {
	return h.startNamed(h.local, svc, input)
}

func (h *harness) startNamed(local bool, pipeline string, input map[string]any) (execution, string) {
	n := h.seq.Add(1)
	id := h.executionArn(pipeline, n)
	h.touched(input)
	if local {
		return h.recorded(startLocal(h, input, id), n), id
	}
	x, err := h.interp.Start(h.definition, input, id, h.invoke, engine.ErrorName)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.recorded(x, n), id
}

// executionArn names the execution as the pipeline of svc does,
// "<microservice>-<action execution id>", unique per test namespace.
func (h *harness) executionArn(svc string, n int64) string {
	sum := sha256.Sum256([]byte(h.ns))
	return fmt.Sprintf("arn:aws:states:us-west-2:123456789012:execution:canary:%s-%x-0000-4000-8000-%012d", svc, sum[:4], n)
}

func (h *harness) run(input map[string]any) asl.Result {
	x, _ := h.start(input)
	return x.Wait()
}

// weights reads the live route of svc.
func (h *harness) weights(routerName, svc string) map[string]int {
	h.t.Helper()
	got, err := routerSet[routerName].Weights(context.Background(), h.plane.Dynamic, h.ns, svc)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]int{}
	for _, b := range got {
		out[b.Name] = b.Weight
	}
	return out
}

// versions lists the Deployments of svc that exist.
func (h *harness) deployments(svc string) []string {
	h.t.Helper()
	list, err := h.plane.Clientset.AppsV1().Deployments(h.ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: naming.LabelMicroservice + "=" + svc})
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, d := range list.Items {
		names = append(names, d.Name)
	}
	return names
}

func (h *harness) services(svc string) []string {
	h.t.Helper()
	list, err := h.plane.Clientset.CoreV1().Services(h.ns).List(context.Background(),
		metav1.ListOptions{LabelSelector: naming.LabelMicroservice + "=" + svc})
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	return names
}

func (h *harness) status(svc string) status.Snapshot {
	h.t.Helper()
	snap, found, err := status.NewEngine(h.plane.Clientset, h.ns).Load(context.Background(), svc)
	if err != nil || !found {
		h.t.Fatalf("status of %s: found %v, %v", svc, found, err)
	}
	return snap
}

// fingerprint identifies the state of a microservice's objects, to prove
// that a rollout touched nothing of another microservice.
func (h *harness) fingerprint(svc string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	sel := metav1.ListOptions{LabelSelector: naming.LabelMicroservice + "=" + svc}
	ctx := context.Background()
	deps, err := h.plane.Clientset.AppsV1().Deployments(h.ns).List(ctx, sel)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, d := range deps.Items {
		// The generation, not the resourceVersion: the Deployment controller
		// keeps writing status after a rollout; only spec changes count.
		out["deployment/"+d.Name] = fmt.Sprintf("generation %d", d.Generation)
	}
	svcs, err := h.plane.Clientset.CoreV1().Services(h.ns).List(ctx, sel)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range svcs.Items {
		out["service/"+s.Name] = s.ResourceVersion
	}
	cm, err := h.plane.Clientset.CoreV1().ConfigMaps(h.ns).Get(ctx, naming.StatusConfigMap(svc), metav1.GetOptions{})
	if err == nil {
		out["configmap/"+cm.Name] = cm.ResourceVersion
	}
	return out
}

func (h *harness) lockHolder(svc string) string {
	h.t.Helper()
	l, err := h.plane.Clientset.CoordinationV1().Leases(h.ns).Get(context.Background(), naming.LockLease(svc), metav1.GetOptions{})
	if err != nil {
		return ""
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// serviceDomain fills the test templates' ${SERVICE_DOMAIN}, as the
// environment's private zone does on EKS.
const serviceDomain = "canary.test"

// settle waits in real time (at most 15 s, for a loaded machine)
// until the controllers have created the pods of every Deployment in the
// namespace and each pod is either ready or stuck for a reason of its own
// (unschedulable, a container waiting or terminated, on its way out).
func (h *harness) settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for ctx.Err() == nil && !h.settled(ctx) {
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) settled(ctx context.Context) bool {
	deps, err := h.plane.Clientset.AppsV1().Deployments(h.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, d := range deps.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < want && !replicaFailure(d) {
			return false
		}
	}
	pods, err := h.plane.Clientset.CoreV1().Pods(h.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, p := range pods.Items {
		if !podSettled(p) {
			return false
		}
	}
	return true
}

// replicaFailure reports a Deployment whose pods cannot be created (a
// quota, say): waiting would not change it.
func replicaFailure(d appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func podSettled(p corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return true
	}
	for _, c := range p.Status.Conditions {
		switch {
		case c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue:
			return true
		case c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse:
			return true
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Terminated != nil || (c.State.Waiting != nil && c.State.Waiting.Reason != "ContainerCreating") || c.RestartCount > 0 {
			return true
		}
	}
	return false
}
