package engine_test

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eks-canary/platform/internal/asl"
	"github.com/eks-canary/platform/lambdas/engine"
	"github.com/eks-canary/platform/lambdas/statemachine"
	"github.com/eks-canary/platform/lambdas/statemachine/interp"
	"github.com/eks-canary/platform/lambdas/status"
)

// scenarios are the engine suite's rollouts. TestParity runs each twice,
// through the definition in the ASL interpreter and through the local
// runner, with every assertion of the scenario applying to both. They are
// not tests of their own, so that no rollout runs a third time:
// go test -run 'TestParity/promotion' runs one.
var scenarios = []struct {
	name string
	run  func(*testing.T)
}{
	{"promotion", canaryIsPromotedStepByStep},
	{"failing metrics", failingCanaryRollsBackWithinOneInterval},
	{"no data", noDataPolicy},
	{"never ready", canaryThatNeverBecomesReadyRollsBack},
	{"API server errors", apiServerErrors},
	{"abort", abortedExecutionIsRolledBack},
	{"concurrent", concurrentRolloutsNeverInterleave},
	{"invalid input", invalidInputChangesNothing},
	{"in place", inPlaceReplacesTheStatefulSet},
	{"roll back during a shift", rollBackDuringAShiftWins},
	{"another team's objects are never touched", anotherTeamsObjectsAreNeverTouched},
	{"lost status", lostStatusIsNotAFirstDeployment},
	{"dry run refusals", apiServerRefusalsInTheDryRunWriteNothing},
	{"stale lock takeover", staleLockTakeoverRollsTheAbandonedRolloutBackFirst},
	{"roll back gives up", rollBackThatGivesUpIsRecordedAndHoldsTheLock},
	{"rollback entry point gives up", rollbackEntryPointThatGivesUpIsRecordedThenRetried},
	{"operator requests", operatorRequests},
	{"pod health", canaryPodHealth},
	{"healthy pods", healthyCanaryPodsPromote},
	{"timeline", rolloutLeavesItsTimelineInTheStatus},
	{"sped-up schedule", spedUpScheduleShowsWallClockTimes},
	{"alarm gates", alarmGates},
	{"restart after traffic", restartAfterTrafficRollsBackWithinOneCheck},
	{"rollout hooks", rolloutHooks},
	{"aborted during a hook Job", abortedDuringAHookJobRemovesIt},
	{"proportional canary scales with weight", proportionalCanaryScalesWithWeight},
	{"proportional canary rolls back", proportionalCanaryRollsBack},
	{"proportional scale that cannot complete rolls back", proportionalScaleThatCannotCompleteRollsBack},
	{"blue-green preview, switch, bake and keep", blueGreenPreviewSwitchBakeAndKeep},
	{"blue-green failing preview rolls back", blueGreenFailingPreviewRollsBack},
	{"blue-green roll back while the old version is kept", blueGreenRollBackWhileTheOldVersionIsKept},
	{"blue-green hooks gate the switch", blueGreenHooksGateTheSwitch},
	{"ab stage", abStage},
	{"ab stage refused", abStageRefused},
	{"shift writes only the route", shiftWritesOnlyTheRoute},
	{"check status loses to an operator", checkStatusLosesToAnOperator},
}

// ownRunner are the tests that drive one runner on purpose.
var ownRunner = []string{"TestLocalRunnerSequencesLikeTheStateMachine", "TestPrometheusJudgesRollouts"}

// TestParityCoversEveryScenario fails when a test that builds a harness
// (and so runs rollouts) is missing from the parity table.
func TestParityCoversEveryScenario(t *testing.T) {
	covered := append([]string{}, ownRunner...)
	for _, sc := range scenarios {
		covered = append(covered, funcName(sc.run))
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || slices.Contains(covered, fn.Name.Name) {
				continue
			}
			if buildsHarness(fn) {
				t.Errorf("%s: %s runs rollouts outside TestParity: drop its Test prefix and add it to the scenarios table", file, fn.Name.Name)
			}
		}
	}
}

func buildsHarness(fn *ast.FuncDecl) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "newHarness" {
				found = true
			}
		}
		return !found
	})
	return found
}

// TestParity asserts that the local runner and the definition take the same
// states, end the same way and leave the same live objects. Scenarios run
// in parallel: each harness has its own namespace and clock.
func TestParity(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			want := record(t, "definition", false, sc.run)
			got := record(t, "local", true, sc.run)
			if len(want) == 0 {
				t.Fatal("the scenario ran no rollout")
			}
			if len(want) != len(got) {
				t.Fatalf("the definition built %d harnesses, the local runner %d", len(want), len(got))
			}
			// Parallel subtests build their harnesses in any order.
			byTest := func(a, b *harnessRecord) int { return strings.Compare(a.Test, b.Test) }
			slices.SortStableFunc(want, byTest)
			slices.SortStableFunc(got, byTest)
			for i := range want {
				a, _ := json.MarshalIndent(want[i], "", "  ")
				b, _ := json.MarshalIndent(got[i], "", "  ")
				if string(a) != string(b) {
					t.Errorf("%s: the local runner differs from the definition\ndefinition: %s\nlocal: %s", want[i].Test, a, b)
				}
			}
		})
	}
}

func record(t *testing.T, name string, local bool, scenario func(*testing.T)) []*harnessRecord {
	rec := &parityRecorder{isLocal: local}
	prefix := t.Name() + "/" + name
	parityRunners.Store(prefix, rec)
	defer parityRunners.Delete(prefix)
	if !t.Run(name, scenario) {
		t.Fatalf("the scenario failed through the %s runner", name)
	}
	return rec.harnesses
}

// parityRunners holds, by the name of the subtest that runs a scenario
// through one runner, what TestParity records there.
var parityRunners sync.Map

// parityRunnerOf is the recorder of the TestParity subtest t runs in; nil
// outside TestParity.
func parityRunnerOf(t testing.TB) *parityRecorder {
	var found *parityRecorder
	parityRunners.Range(func(k, v any) bool {
		if name := k.(string); t.Name() == name || strings.HasPrefix(t.Name(), name+"/") {
			found = v.(*parityRecorder)
			return false
		}
		return true
	})
	return found
}

type parityRecorder struct {
	isLocal   bool
	mu        sync.Mutex
	harnesses []*harnessRecord
}

func (p *parityRecorder) local() bool { return p != nil && p.isLocal }

// harnessRecord is what one harness's rollouts did and left.
type harnessRecord struct {
	mu sync.Mutex
	// Test is the test that built the harness, without the runner's name.
	Test string
	Runs map[int64]runRecord // by execution number within the harness
	// Left is, per microservice, its live objects when the scenario ended.
	Left     map[string]leftRecord
	touchedS map[string]string // microservice -> router
}

type runRecord struct {
	Status, Error string
	Tasks         []string // Task states entered, in order
	Retries       int
}

type leftRecord struct {
	Weights     map[string]int
	Deployments []string
	Services    []string
	Phase       string
	LockHeld    bool
}

func (p *parityRecorder) harness(h *harness) *harnessRecord {
	if p == nil {
		return nil
	}
	parts := strings.Split(h.t.Name(), "/")
	parts = slices.DeleteFunc(parts, func(p string) bool { return p == "definition" || p == "local" })
	r := &harnessRecord{Test: strings.Join(parts, "/"), Runs: map[int64]runRecord{}, Left: map[string]leftRecord{}, touchedS: map[string]string{}}
	p.mu.Lock()
	p.harnesses = append(p.harnesses, r)
	p.mu.Unlock()
	// Registered after the namespace's own cleanup, so it runs first.
	h.t.Cleanup(func() { r.snapshot(h) })
	return r
}

func (h *harness) touched(input map[string]any) {
	if h.rec == nil {
		return
	}
	svc, _ := input["microservice_name"].(string)
	router, _ := input["router"].(string)
	if _, ok := routerSet[router]; !ok || svc == "" {
		return
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	h.rec.touchedS[svc] = router
}

func (r *harnessRecord) snapshot(h *harness) {
	for svc, router := range r.touchedS {
		left := leftRecord{Weights: map[string]int{}, Deployments: h.deployments(svc), Services: h.services(svc), LockHeld: h.lockHolder(svc) != ""}
		if got, err := routerSet[router].Weights(context.Background(), h.plane.Dynamic, h.ns, svc); err == nil {
			for _, b := range got {
				left.Weights[b.Name] = b.Weight
			}
		}
		sort.Strings(left.Deployments)
		sort.Strings(left.Services)
		if st, err := statusOf(h, svc); err == nil {
			left.Phase = st
		}
		r.Left[svc] = left
	}
}

func statusOf(h *harness, svc string) (string, error) {
	snap, found, err := status.NewEngine(h.plane.Clientset, h.ns).Load(context.Background(), svc)
	if err != nil || !found {
		return "", err
	}
	return snap.Status.Phase, nil
}

// recorded notes how an execution ended when the scenario waits for it.
func (h *harness) recorded(x execution, n int64) execution {
	if h.rec == nil {
		return x
	}
	return &recordedExecution{execution: x, h: h, n: n}
}

func funcName(f func(*testing.T)) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}

type recordedExecution struct {
	execution
	h    *harness
	n    int64
	once sync.Once
}

func (x *recordedExecution) Wait() asl.Result {
	res := x.execution.Wait()
	x.once.Do(func() {
		run := runRecord{Status: res.Status, Error: res.Error}
		for _, e := range res.Events {
			switch {
			case e.Event == "StateEntered" && statemachine.TaskActions[e.State] != "":
				// How often "Wait until ready" polls depends on how fast the
				// control plane starts pods, not on the sequencer: one per run of polls.
				if e.State == statemachine.StateReady && len(run.Tasks) > 0 && run.Tasks[len(run.Tasks)-1] == e.State {
					continue
				}
				run.Tasks = append(run.Tasks, e.State)
			case e.Event == "StateRetried":
				run.Retries++
			}
		}
		x.h.rec.mu.Lock()
		x.h.rec.Runs[x.n] = run
		x.h.rec.mu.Unlock()
	})
	return res
}

// localExecution runs deploy.json through engine.Local with the harness's
// Task hook and clock, so both runners see the same handler calls.
type localExecution struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    asl.Result
}

func startLocal(h *harness, input map[string]any, id string) *localExecution {
	raw, err := json.Marshal(input)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &localExecution{cancel: cancel, done: make(chan struct{})}
	local := &engine.Local{
		Engine: h.eng,
		// As the interpreter does, Waits take no time: h.invoke moves the
		// engine's clock.
		Sleep:  func(context.Context, time.Duration) error { return nil },
		Invoke: h.invoke,
	}
	go func() {
		defer close(x.done)
		defer cancel()
		out, err := local.Run(ctx, raw, id)
		x.res = aslResult(out.Execution)
		if err != nil && x.res.Status == "" {
			x.res.Status, x.res.Cause = "FAILED", err.Error()
		}
	}()
	return x
}

func (x *localExecution) Abort() error     { x.cancel(); return nil }
func (x *localExecution) Wait() asl.Result { <-x.done; return x.res }

func aslResult(r interp.Result) asl.Result {
	out := asl.Result{Status: r.Status, Error: r.Error, Cause: r.Cause, Output: r.Output}
	for _, e := range r.History {
		out.Events = append(out.Events, asl.Event{Event: e.Type, State: e.State, Error: e.Error})
	}
	return out
}
