package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/status"
)

var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

func running(svc string, weight int) status.Status {
	return status.Status{
		Microservice: svc, Execution: "exec-1", Router: "appmesh", Strategy: "canary",
		StableVersion: 3, StableImage: "repo/" + svc + ":1.3", CanaryVersion: 4, CanaryImage: "repo/" + svc + ":1.4",
		Weight: weight, NextWeight: weight + 10, Step: weight / 10, Steps: 10, Phase: status.PhaseProgressing,
		StartedAt: time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC), LastVersion: 4,
	}
}

// seed gives the test its own namespace on the shared plane and the engine's
// store for it, holding statuses written as the engine writes them.
func seed(t *testing.T, statuses ...status.Status) (*testcluster.Cluster, string, *status.Engine) {
	t.Helper()
	c := plane.Get(t)
	ns := c.Namespace(t)
	eng := status.NewEngine(c.Clientset, ns)
	for _, st := range statuses {
		if err := eng.Write(context.Background(), st); err != nil {
			t.Fatalf("seed the status of %s: %v", st.Microservice, err)
		}
	}
	return c, ns, eng
}

func getCM(t *testing.T, cs typed.Interface, ns, svc string) *corev1.ConfigMap {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), naming.StatusConfigMap(svc), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// owned returns the data keys each field manager owns, per operation.
func owned(t *testing.T, cm *corev1.ConfigMap) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, mf := range cm.ManagedFields {
		var fields struct {
			Data map[string]any `json:"f:data"`
		}
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			t.Fatal(err)
		}
		key := mf.Manager + "/" + string(mf.Operation)
		for k := range fields.Data {
			out[key] = append(out[key], strings.TrimPrefix(k, "f:"))
		}
	}
	return out
}

func TestWriteSetsStatusSummaryAndLabels(t *testing.T) {
	st := running("yelb-appserver", 30)
	st.Reason = "holding: no data"
	st.Verdicts = []status.Verdict{{Weight: 30, Result: "nodata", Requests: 2}}
	c, ns, eng := seed(t, st)
	ctx := context.Background()
	cm := getCM(t, c.Clientset, ns, "yelb-appserver")
	wantLabels := map[string]string{naming.LabelStatus: "true", naming.LabelMicroservice: "yelb-appserver", naming.LabelManagedBy: naming.ManagedByValue}
	for k, v := range wantLabels {
		if cm.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cm.Labels[k], v)
		}
	}
	wantData := map[string]string{status.KeyPhase: "Progressing", status.KeyWeight: "30", status.KeyCanaryVersion: "4",
		status.KeyStableVersion: "3", status.KeyReason: "holding: no data", status.KeyHistory: "[]"}
	for k, v := range wantData {
		if cm.Data[k] != v {
			t.Errorf("data[%s] = %q, want %q", k, cm.Data[k], v)
		}
	}

	snap, err := status.NewOperator(c.Clientset).Get(ctx, ns, "yelb-appserver")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status.Namespace != ns || snap.Status.UpdatedAt.IsZero() || snap.Status.CanaryImage != "repo/yelb-appserver:1.4" ||
		len(snap.Status.Verdicts) != 1 || snap.Status.Verdicts[0].Result != "nodata" {
		t.Errorf("status read back = %+v", snap.Status)
	}

	st.Reason = ""
	st.Weight = 40
	if err := eng.Write(ctx, st); err != nil {
		t.Fatal(err)
	}
	cm = getCM(t, c.Clientset, ns, "yelb-appserver")
	if _, ok := cm.Data[status.KeyReason]; ok || cm.Data[status.KeyWeight] != "40" {
		t.Errorf("after a write without reason: data = %v", cm.Data)
	}

	other := running("yelb-appserver", 10)
	other.Namespace = "elsewhere"
	if err := eng.Write(ctx, other); err == nil || !strings.Contains(err.Error(), `field namespace is "elsewhere"`) {
		t.Errorf("write to another namespace: error = %v", err)
	}
	if err := eng.Write(ctx, status.Status{Phase: status.PhaseProgressing}); err == nil || !strings.Contains(err.Error(), "field microservice is empty") {
		t.Errorf("write without microservice: error = %v", err)
	}
}

func TestEngineAndOperatorOwnSeparateKeys(t *testing.T) {
	c, ns, eng := seed(t, running("yelb-ui", 10))
	ctx := context.Background()
	ops := status.NewOperator(c.Clientset)

	if _, err := ops.Request(ctx, ns, "yelb-ui", status.ActionPause); err != nil {
		t.Fatal(err)
	}
	// The engine's next write must neither remove nor fight over the pause.
	if err := eng.Write(ctx, running("yelb-ui", 20)); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Request(ctx, ns, "yelb-ui", status.ActionAbort); err != nil {
		t.Fatal(err)
	}
	if err := eng.Finish(ctx, status.Record{Microservice: "yelb-ui", CanaryVersion: 3, Phase: status.PhaseSucceeded}); err != nil {
		t.Fatal(err)
	}
	cm := getCM(t, c.Clientset, ns, "yelb-ui")
	if cm.Data[status.KeyWeight] != "20" || cm.Data[status.KeyPaused] != "false" || cm.Data[status.KeyRequest] != "abort" {
		t.Fatalf("data after interleaved writes = %v", cm.Data)
	}
	got := owned(t, cm)
	engineKeys := strings.Join(slices.Sorted(slices.Values(got[naming.FieldManager+"/Apply"])), ",")
	if engineKeys != "canaryVersion,history,phase,stableVersion,status,weight" {
		t.Errorf("engine owns %q", engineKeys)
	}
	if ctl := strings.Join(slices.Sorted(slices.Values(got[naming.ControlFieldManager+"/Apply"])), ","); ctl != "paused,request" {
		t.Errorf("canaryctl owns %q", ctl)
	}
	if len(got) != 2 {
		t.Errorf("managers = %v, want only the engine's and canaryctl's applies", got)
	}
}

func TestFinishKeepsTheNewestRecords(t *testing.T) {
	c, ns, eng := seed(t)
	ctx := context.Background()

	err := eng.Finish(ctx, status.Record{Microservice: "yelb-db", CanaryVersion: 1, Phase: status.PhaseSucceeded})
	if err == nil || !strings.Contains(err.Error(), "Write the rollout's status before Finish") {
		t.Fatalf("finish before any status: error = %v", err)
	}
	if _, err := c.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, naming.StatusConfigMap("yelb-db"), metav1.GetOptions{}); err == nil {
		t.Fatal("a refused Finish created the ConfigMap")
	}

	st := running("yelb-db", 100)
	st.Phase = status.PhaseSucceeded
	if err := eng.Write(ctx, st); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= status.HistoryLimit+2; v++ {
		rec := status.Record{Microservice: "yelb-db", CanaryVersion: v, StableVersion: v - 1, Phase: status.PhaseSucceeded, Execution: fmt.Sprintf("exec-%d", v)}
		if err := eng.Finish(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	history, err := status.NewOperator(c.Clientset).History(ctx, ns, "yelb-db")
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != status.HistoryLimit {
		t.Fatalf("history holds %d records, want %d", len(history), status.HistoryLimit)
	}
	if history[0].CanaryVersion != status.HistoryLimit+2 || history[len(history)-1].CanaryVersion != 3 {
		t.Errorf("history runs v%d..v%d, want v%d..v3", history[0].CanaryVersion, history[len(history)-1].CanaryVersion, status.HistoryLimit+2)
	}
	if history[0].FinishedAt.IsZero() {
		t.Error("FinishedAt was not defaulted")
	}
	if cm := getCM(t, c.Clientset, ns, "yelb-db"); cm.Data[status.KeyPhase] != status.PhaseSucceeded {
		t.Errorf("Finish changed the status: %v", cm.Data[status.KeyPhase])
	}
}

func TestListAndUnknownMicroservice(t *testing.T) {
	c, ns, eng := seed(t)
	ctx := context.Background()
	ops := status.NewOperator(c.Clientset)

	_, err := ops.Get(ctx, ns, "yelb-appserver")
	var nf *status.NotFoundError
	if !errors.As(err, &nf) || len(nf.Known) != 0 || !strings.Contains(err.Error(), "no microservice has a rollout status") {
		t.Fatalf("get in an empty namespace: error = %v", err)
	}

	for _, svc := range []string{"yelb-ui", "yelb-appserver"} {
		if err := eng.Write(ctx, running(svc, 10)); err != nil {
			t.Fatal(err)
		}
	}
	// A ConfigMap that happens to have the name but not the label is not a status.
	impostor := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: naming.StatusConfigMap("redis-server"), Namespace: ns}}
	if _, err := c.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, impostor, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	list, err := ops.List(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Microservice != "yelb-appserver" || list[1].Microservice != "yelb-ui" {
		t.Fatalf("list = %+v", list)
	}

	for _, svc := range []string{"yelb-app", "redis-server"} {
		before := getCMs(t, c.Clientset, ns)
		_, err = ops.Request(ctx, ns, svc, status.ActionPause)
		if !errors.As(err, &nf) {
			t.Fatalf("pause %s: error = %v, want NotFoundError", svc, err)
		}
		want := fmt.Sprintf("unknown microservice %q in namespace %q (no ConfigMap %s-rollout); known microservices: yelb-appserver, yelb-ui", svc, ns, svc)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v\nwant it to contain %s", err, want)
		}
		if after := getCMs(t, c.Clientset, ns); after != before {
			t.Errorf("a refused pause changed ConfigMaps:\n%s\n%s", before, after)
		}
	}
}

// getCMs fingerprints every ConfigMap in the namespace but kube-root-ca.crt,
// which the controller manager publishes into each new namespace whenever
// it gets to it.
func getCMs(t *testing.T, cs typed.Interface, ns string) string {
	t.Helper()
	list, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, cm := range list.Items {
		if cm.Name == "kube-root-ca.crt" {
			continue
		}
		fmt.Fprintf(&b, "%s@%s ", cm.Name, cm.ResourceVersion)
	}
	return b.String()
}

func TestRequestsAreValidatedAndChangeNothingWhenRefused(t *testing.T) {
	const svc = "yelb-appserver"
	c, ns, eng := seed(t, running(svc, 20))
	ctx := context.Background()
	ops := status.NewOperator(c.Clientset)

	refused := func(name string, call func() error, want string) {
		t.Helper()
		before := getCM(t, c.Clientset, ns, svc)
		err := call()
		var r *status.RefusedError
		if !errors.As(err, &r) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error = %v, want a refusal containing %q", name, err, want)
		}
		if after := getCM(t, c.Clientset, ns, svc); after.ResourceVersion != before.ResourceVersion {
			t.Fatalf("%s was refused but changed the ConfigMap: %v -> %v", name, before.Data, after.Data)
		}
	}
	accepted := func(name string, call func() error, paused, request string) {
		t.Helper()
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cm := getCM(t, c.Clientset, ns, svc)
		if cm.Data[status.KeyPaused] != paused || cm.Data[status.KeyRequest] != request {
			t.Fatalf("after %s: paused=%q request=%q, want %q %q", name, cm.Data[status.KeyPaused], cm.Data[status.KeyRequest], paused, request)
		}
	}
	pause := func() error { _, err := ops.Request(ctx, ns, svc, status.ActionPause); return err }
	resume := func() error { _, err := ops.Request(ctx, ns, svc, status.ActionResume); return err }
	promote := func() error { _, err := ops.Request(ctx, ns, svc, status.ActionPromote); return err }
	abort := func() error { _, err := ops.Request(ctx, ns, svc, status.ActionAbort); return err }

	refused("resume while running", resume, "yelb-appserver is not paused")
	accepted("pause", pause, "true", "")
	refused("second pause", pause, "yelb-appserver is already paused")
	accepted("resume", resume, "false", "")
	accepted("promote", promote, "false", "promote")
	refused("second promote", promote, "a promote is already pending")
	accepted("abort over promote", abort, "false", "abort")
	refused("second abort", abort, "an abort is already pending")
	refused("promote over abort", promote, "an abort is already pending for yelb-appserver; promote refused")

	done := running(svc, 100)
	done.Phase = status.PhaseSucceeded
	done.UpdatedAt = time.Date(2026, 11, 25, 18, 45, 0, 0, time.UTC)
	if err := eng.Write(ctx, done); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Acknowledge(ctx, svc, status.RequestAbort); err != nil {
		t.Fatal(err)
	}
	refused("promote when finished", promote, "yelb-appserver has no rollout in progress (last: Succeeded at 2026-11-25T18:45:00Z)")
	refused("abort when finished", abort, "yelb-appserver has no rollout in progress (last: Succeeded at 2026-11-25T18:45:00Z)")
	refused("pause when finished", pause, "has no rollout in progress")
}

// The engine reads the control with Load and acknowledges the request it
// acted on: each request is honoured exactly once.
func TestAcknowledgeHonoursARequestOnce(t *testing.T) {
	c, ns, eng := seed(t)
	ctx := context.Background()
	ops := status.NewOperator(c.Clientset)
	const svc = "yelb-ui"
	consume := func() (status.Control, error) {
		snap, _, err := eng.Load(ctx, svc)
		if err != nil || snap.Control.Request == "" {
			return snap.Control, err
		}
		if cleared, err := eng.Acknowledge(ctx, svc, snap.Control.Request); err != nil || !cleared {
			return snap.Control, fmt.Errorf("acknowledge %q: cleared=%v, %v", snap.Control.Request, cleared, err)
		}
		return snap.Control, nil
	}

	if got, err := consume(); err != nil || got != (status.Control{}) {
		t.Fatalf("consume before any status = %+v, %v", got, err)
	}
	if err := eng.Write(ctx, running(svc, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Request(ctx, ns, svc, status.ActionPause); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Request(ctx, ns, svc, status.ActionPromote); err != nil {
		t.Fatal(err)
	}
	got, err := consume()
	if err != nil || got != (status.Control{Request: status.RequestPromote}) {
		t.Fatalf("first consume = %+v, %v; want the promote (which ended the pause)", got, err)
	}
	if got, err := consume(); err != nil || got != (status.Control{}) {
		t.Fatalf("second consume = %+v, %v; want nothing", got, err)
	}
	cm := getCM(t, c.Clientset, ns, svc)
	if _, ok := cm.Data[status.KeyRequest]; ok {
		t.Fatalf("request key still present after consume: %v", cm.Data)
	}
	// After the engine removed the key, canaryctl writes it again without a
	// field manager conflict, and pausing does not need to carry it.
	if _, err := ops.Request(ctx, ns, svc, status.ActionPause); err != nil {
		t.Fatal(err)
	}
	if _, err := ops.Request(ctx, ns, svc, status.ActionAbort); err != nil {
		t.Fatalf("abort after a consumed promote: %v", err)
	}
	if _, err := ops.Request(ctx, ns, svc, status.ActionPause); err != nil {
		t.Fatal(err)
	}
	got, err = consume()
	if err != nil || got != (status.Control{Paused: true, Request: status.RequestAbort}) {
		t.Fatalf("consume = %+v, %v; want paused with the abort", got, err)
	}
	if got, err := consume(); err != nil || got != (status.Control{Paused: true}) {
		t.Fatalf("consume after the abort = %+v, %v; want paused only", got, err)
	}
}

func TestAcknowledgeKeepsAReplacedRequest(t *testing.T) {
	const svc = "yelb-appserver"
	c, ns, eng := seed(t, running(svc, 40))
	ctx := context.Background()
	ops := status.NewOperator(c.Clientset)

	if _, err := ops.Request(ctx, ns, svc, status.ActionPromote); err != nil {
		t.Fatal(err)
	}
	// The engine decides on the promote it loaded; meanwhile the operator aborts.
	snap, _, err := eng.Load(ctx, svc)
	if err != nil || snap.Control.Request != status.RequestPromote {
		t.Fatalf("load = %+v, %v", snap.Control, err)
	}
	if _, err := ops.Request(ctx, ns, svc, status.ActionAbort); err != nil {
		t.Fatal(err)
	}
	cleared, err := eng.Acknowledge(ctx, svc, status.RequestPromote)
	if err != nil || cleared {
		t.Fatalf("acknowledge a replaced promote = %v, %v; want false", cleared, err)
	}
	if cm := getCM(t, c.Clientset, ns, svc); cm.Data[status.KeyRequest] != status.RequestAbort {
		t.Fatalf("the abort was lost: %v", cm.Data)
	}
	cleared, err = eng.Acknowledge(ctx, svc, status.RequestAbort)
	if err != nil || !cleared {
		t.Fatalf("acknowledge the abort = %v, %v; want true", cleared, err)
	}
	if cm := getCM(t, c.Clientset, ns, svc); cm.Data[status.KeyRequest] != "" {
		t.Fatalf("the abort is still pending: %v", cm.Data)
	}
	if cleared, err := eng.Acknowledge(ctx, svc, status.RequestAbort); err != nil || cleared {
		t.Fatalf("acknowledging twice = %v, %v; want false", cleared, err)
	}
	if _, err := eng.Acknowledge(ctx, svc, ""); err == nil || !strings.Contains(err.Error(), "request is empty") {
		t.Fatalf("acknowledge nothing: error = %v", err)
	}
}

// raceOnRead returns an operator whose first read of the status ConfigMap is
// followed, before the caller sees it, by meanwhile: the window between a
// request's decision and its write, made deterministic.
func raceOnRead(t *testing.T, c *testcluster.Cluster, meanwhile func()) *status.Operator {
	t.Helper()
	cfg := rest.CopyConfig(c.Config)
	var once sync.Once
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil && req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "-rollout") {
				once.Do(meanwhile)
			}
			return resp, err
		})
	}
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return status.NewOperator(cs)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func TestRequestIsDecidedAgainWhenTheEngineMovesOn(t *testing.T) {
	const svc = "yelb-ui"
	c, ns, eng := seed(t, running(svc, 60))
	ctx := context.Background()
	// The operator reads a running rollout; before its write lands the
	// engine finishes it. The stale write must fail and the fresh decision
	// must refuse.
	ops := raceOnRead(t, c, func() {
		done := running(svc, 100)
		done.Phase = status.PhaseSucceeded
		if err := eng.Write(ctx, done); err != nil {
			t.Error(err)
		}
	})
	_, err := ops.Request(ctx, ns, svc, status.ActionAbort)
	var refused *status.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "has no rollout in progress (last: Succeeded") {
		t.Fatalf("abort racing the end of the rollout: error = %v, want a refusal", err)
	}
	if data := getCM(t, c.Clientset, ns, svc).Data; data[status.KeyRequest] != "" || data[status.KeyPaused] != "" {
		t.Fatalf("the stale abort was written: %v", data)
	}
}

func TestRequestDoesNotRecreateADeletedStatus(t *testing.T) {
	const svc = "yelb-ui"
	c, ns, _ := seed(t, running(svc, 10))
	ctx := context.Background()
	ops := raceOnRead(t, c, func() {
		if err := c.Clientset.CoreV1().ConfigMaps(ns).Delete(ctx, naming.StatusConfigMap(svc), metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	})
	_, err := ops.Request(ctx, ns, svc, status.ActionPause)
	var nf *status.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("pause racing a deletion: error = %v, want NotFoundError", err)
	}
	if _, err := c.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, naming.StatusConfigMap(svc), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the status ConfigMap exists again after a refused pause: %v", err)
	}
}

// TestRequestsUnderContention races an operator against the engine: every
// accepted request must be consumed exactly once, whatever the interleaving.
func TestRequestsUnderContention(t *testing.T) {
	const svc = "yelb-appserver"
	const requests = 25
	c, ns, eng := seed(t, running(svc, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ops := status.NewOperator(c.Clientset)

	var accepted, consumed int
	operatorDone := make(chan struct{})
	var wg sync.WaitGroup
	var opErr, engErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(operatorDone)
		for accepted < requests && ctx.Err() == nil {
			_, err := ops.Request(ctx, ns, svc, status.ActionAbort)
			var r *status.RefusedError
			switch {
			case err == nil:
				accepted++
			case errors.As(err, &r):
			case apierrors.IsConflict(err):
				// Outraced through every retry on a starved machine: the
				// request was not applied, as an operator would be told.
			default:
				opErr = err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		weight := 10
		for {
			cleared, err := eng.Acknowledge(ctx, svc, status.RequestAbort)
			if err != nil {
				engErr = err
				return
			}
			if cleared {
				consumed++
			}
			// Step writes make the operator's resourceVersion stale often.
			weight = weight%90 + 10
			if err := eng.Write(ctx, running(svc, weight)); err != nil {
				engErr = err
				return
			}
			select {
			case <-operatorDone:
				if !cleared {
					if last, err := eng.Acknowledge(ctx, svc, status.RequestAbort); err != nil || !last {
						engErr = err
						return
					}
					consumed++
				}
			default:
			}
		}
	}()
	wg.Wait()
	if opErr != nil || engErr != nil {
		t.Fatalf("operator error %v, engine error %v", opErr, engErr)
	}
	if accepted != requests || consumed != requests {
		t.Fatalf("accepted %d requests, consumed %d; want %d each", accepted, consumed, requests)
	}
}

// A cached read asks the watch cache for a version no older than the one
// given, is never older than it, and falls back to a quorum read for a
// version the cache cannot serve.
func TestLoadNotOlderThan(t *testing.T) {
	const svc = "yelb-appserver"
	c, ns, _ := seed(t, running(svc, 10))
	cfg := rest.CopyConfig(c.Config)
	var mu sync.Mutex
	var asked []string
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet {
				mu.Lock()
				asked = append(asked, req.URL.Query().Get("resourceVersion"))
				mu.Unlock()
			}
			return rt.RoundTrip(req)
		})
	}
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng := status.NewEngine(cs, ns)
	ctx := context.Background()
	if err := eng.Write(ctx, running(svc, 20)); err != nil {
		t.Fatal(err)
	}
	newest := getCM(t, c.Clientset, ns, svc).ResourceVersion

	cases := []struct {
		name, version string
		want          []string // resourceVersion of each GET
	}{
		{"the version read before", newest, []string{newest}},
		{"no version", "", []string{""}},
		{"a version the API server refuses", "not-a-version", []string{"not-a-version", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			asked = nil
			mu.Unlock()
			snap, found, err := eng.LoadNotOlderThan(ctx, svc, tc.version)
			if err != nil || !found {
				t.Fatalf("LoadNotOlderThan(%q) = found %v, %v", tc.version, found, err)
			}
			if snap.Status.Weight != 20 || snap.ResourceVersion != newest {
				t.Fatalf("read weight %d at %s, want the newest status (20%% at %s)", snap.Status.Weight, snap.ResourceVersion, newest)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(asked, tc.want) {
				t.Fatalf("GETs asked for resourceVersions %q, want %q", asked, tc.want)
			}
		})
	}

	t.Run("no status", func(t *testing.T) {
		_, found, err := eng.LoadNotOlderThan(ctx, "yelb-ui", newest)
		if err != nil || found {
			t.Fatalf("LoadNotOlderThan of a microservice without a status = found %v, %v; want not found", found, err)
		}
	})
}
