package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	fakecoordination "k8s.io/client-go/kubernetes/typed/coordination/v1/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/kube"
	"github.com/eks-canary/platform/lambdas/naming"
)

var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

// clock is a settable time source shared by several Locks.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLocks(t *testing.T) (*Locks, *testcluster.Cluster, string) {
	t.Helper()
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	return New(cluster.Clientset.CoordinationV1(), ns), cluster, ns
}

func TestAcquireHoldReleaseCycle(t *testing.T) {
	locks, cluster, ns := newLocks(t)
	ctx := context.Background()

	if info, err := locks.Holder(ctx, "yelb-ui"); err != nil || info != nil {
		t.Fatalf("holder of a free lock: %+v, %v", info, err)
	}
	if err := locks.Acquire(ctx, "yelb-ui", "exec-1"); err != nil {
		t.Fatal(err)
	}
	lease, err := cluster.Clientset.CoordinationV1().Leases(ns).Get(ctx, naming.LockLease("yelb-ui"), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease %s not created: %v", naming.LockLease("yelb-ui"), err)
	}
	if *lease.Spec.HolderIdentity != "exec-1" || *lease.Spec.LeaseDurationSeconds != int32(DefaultDuration/time.Second) ||
		lease.Labels[naming.LabelMicroservice] != "yelb-ui" || lease.Labels[naming.LabelManagedBy] != naming.ManagedByValue {
		t.Errorf("lease %+v %+v", lease.Labels, lease.Spec)
	}

	// The same execution retrying its step keeps the lock.
	if err := locks.Acquire(ctx, "yelb-ui", "exec-1"); err != nil {
		t.Fatalf("re-acquire by the holder: %v", err)
	}
	// Another microservice is independent.
	if err := locks.Acquire(ctx, "yelb-db", "exec-9"); err != nil {
		t.Fatalf("lock of another microservice: %v", err)
	}

	err = locks.Acquire(ctx, "yelb-ui", "exec-2")
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second execution got %v, want *HeldError", err)
	}
	if held.Holder() != "exec-1" {
		t.Errorf("held by %q, want exec-1", held.Holder())
	}
	for _, want := range []string{"yelb-ui", "exec-1", "canaryctl abort yelb-ui", "since " + held.Since.UTC().Format(time.RFC3339), "wait"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if kube.IsTransient(err) {
		t.Errorf("a held lock is not a transient error")
	}

	info, err := locks.Holder(ctx, "yelb-ui")
	if err != nil || info == nil || info.Holder != "exec-1" || info.Stale || info.Since.IsZero() {
		t.Fatalf("holder %+v, %v", info, err)
	}

	if err := locks.Release(ctx, "yelb-ui", "exec-2"); err != nil {
		t.Fatalf("release by a non-holder: %v", err)
	}
	if info, _ := locks.Holder(ctx, "yelb-ui"); info == nil || info.Holder != "exec-1" {
		t.Fatalf("a non-holder released the lock: %+v", info)
	}
	if err := locks.Release(ctx, "yelb-ui", "exec-1"); err != nil {
		t.Fatal(err)
	}
	if info, _ := locks.Holder(ctx, "yelb-ui"); info != nil {
		t.Fatalf("lock still held after release: %+v", info)
	}
	if err := locks.Release(ctx, "yelb-ui", "exec-1"); err != nil {
		t.Fatalf("second release: %v", err)
	}
	if err := locks.Acquire(ctx, "yelb-ui", "exec-2"); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
}

func TestStaleLockIsTakenOverAndTheOldHolderLosesIt(t *testing.T) {
	locks, cluster, ns := newLocks(t)
	ctx := context.Background()
	clk := &clock{now: time.Now()}
	locks.Now = clk.Now
	locks.Duration = 10 * time.Minute

	if err := locks.Acquire(ctx, "yelb-appserver", "exec-1"); err != nil {
		t.Fatal(err)
	}
	clk.Add(9 * time.Minute)
	if err := locks.Renew(ctx, "yelb-appserver", "exec-1"); err != nil {
		t.Fatalf("renew: %v", err)
	}
	clk.Add(9 * time.Minute) // 9 min after the renewal: still valid
	var held *HeldError
	if err := locks.Acquire(ctx, "yelb-appserver", "exec-2"); !errors.As(err, &held) {
		t.Fatalf("renewed lock taken over: %v", err)
	}
	if want := held.RenewedAt.Add(10 * time.Minute); !held.StaleAt.Equal(want) {
		t.Errorf("stale at %s, want %s", held.StaleAt, want)
	}

	clk.Add(2 * time.Minute) // 11 min without renewal
	if info, _ := locks.Holder(ctx, "yelb-appserver"); info == nil || !info.Stale {
		t.Fatalf("lock not reported stale: %+v", info)
	}
	if err := locks.Acquire(ctx, "yelb-appserver", "exec-2"); err != nil {
		t.Fatalf("take over a stale lock: %v", err)
	}
	lease, err := cluster.Clientset.CoordinationV1().Leases(ns).Get(ctx, naming.LockLease("yelb-appserver"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "exec-2" || *lease.Spec.LeaseTransitions != 1 || !lease.Spec.AcquireTime.Time.Equal(clk.Now().Truncate(time.Microsecond)) {
		t.Errorf("lease after takeover: holder %s transitions %d acquired %s", *lease.Spec.HolderIdentity, *lease.Spec.LeaseTransitions, lease.Spec.AcquireTime)
	}
	if err := locks.Renew(ctx, "yelb-appserver", "exec-1"); !errors.As(err, &held) || held.Holder() != "exec-2" {
		t.Fatalf("old holder renewed a lock it lost: %v", err)
	}
}

func TestRenewRecreatesALeaseDeletedByHand(t *testing.T) {
	locks, cluster, ns := newLocks(t)
	ctx := context.Background()
	if err := locks.Acquire(ctx, "redis-server", "exec-1"); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Clientset.CoordinationV1().Leases(ns).Delete(ctx, naming.LockLease("redis-server"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := locks.Renew(ctx, "redis-server", "exec-1"); err != nil {
		t.Fatal(err)
	}
	if info, _ := locks.Holder(ctx, "redis-server"); info == nil || info.Holder != "exec-1" {
		t.Fatalf("holder after renew %+v", info)
	}
}

func TestEmptyHolderIsRefused(t *testing.T) {
	locks := New(fakeLeases(), "yelb")
	err := locks.Acquire(context.Background(), "yelb-ui", "")
	if err == nil || !strings.Contains(err.Error(), "holder is empty") {
		t.Fatalf("error %v", err)
	}
}

// fakeLeases is client-go's fake coordination/v1 client over an object
// tracker that holds objs.
func fakeLeases(objs ...runtime.Object) *fakecoordination.FakeCoordinationV1 {
	tracker := k8stesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())
	for _, o := range objs {
		if err := tracker.Add(o); err != nil {
			panic(err)
		}
	}
	f := &k8stesting.Fake{}
	f.AddReactor("*", "*", k8stesting.ObjectReaction(tracker))
	return &fakecoordination.FakeCoordinationV1{Fake: f}
}

// race starts one goroutine per contender, each with its own Locks (as
// separate Lambda invocations would have), and returns their errors.
func race(t *testing.T, contenders int, acquire func(i int) error) []error {
	t.Helper()
	errs := make([]error, contenders)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range contenders {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = acquire(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

func onlyOneWins(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		var held *HeldError
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("contenders %d and %d both acquired the lock", winner, i)
		case err == nil:
			winner = i
		case !errors.As(err, &held):
			t.Fatalf("contender %d: %v, want *HeldError", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("nobody acquired the lock: %v", errs)
	}
	return winner
}

func TestConcurrentAcquireHasOneWinner(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	ctx := context.Background()
	for round := range 5 {
		svc := fmt.Sprintf("svc-%d", round)
		errs := race(t, 2, func(i int) error {
			return New(cluster.Clientset.CoordinationV1(), ns).Acquire(ctx, svc, fmt.Sprintf("exec-%d", i))
		})
		winner := onlyOneWins(t, errs)
		info, err := New(cluster.Clientset.CoordinationV1(), ns).Holder(ctx, svc)
		if err != nil || info == nil || info.Holder != fmt.Sprintf("exec-%d", winner) {
			t.Fatalf("round %d: winner %d but holder %+v (%v)", round, winner, info, err)
		}
	}
	errs := race(t, 8, func(i int) error {
		return New(cluster.Clientset.CoordinationV1(), ns).Acquire(ctx, "crowded", fmt.Sprintf("exec-%d", i))
	})
	onlyOneWins(t, errs)
}

func TestConcurrentTakeoverOfAStaleLockHasOneWinner(t *testing.T) {
	cluster := plane.Get(t)
	ns := cluster.Namespace(t)
	ctx := context.Background()
	clk := &clock{now: time.Now()}
	first := New(cluster.Clientset.CoordinationV1(), ns)
	first.Now, first.Duration = clk.Now, time.Minute
	if err := first.Acquire(ctx, "yelb-ui", "crashed"); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	errs := race(t, 4, func(i int) error {
		l := New(cluster.Clientset.CoordinationV1(), ns)
		l.Now, l.Duration = clk.Now, time.Minute
		return l.Acquire(ctx, "yelb-ui", fmt.Sprintf("exec-%d", i))
	})
	winner := onlyOneWins(t, errs)
	lease, err := cluster.Clientset.CoordinationV1().Leases(ns).Get(ctx, naming.LockLease("yelb-ui"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != fmt.Sprintf("exec-%d", winner) || *lease.Spec.LeaseTransitions != 1 {
		t.Errorf("holder %s transitions %d, want exec-%d and 1", *lease.Spec.HolderIdentity, *lease.Spec.LeaseTransitions, winner)
	}
}

func TestEndlessConflictsEndInATransientError(t *testing.T) {
	cs := fakeLeases(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: naming.LockLease("yelb-ui"), Namespace: "yelb"},
	})
	updates := 0
	cs.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		updates++
		return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), "yelb-ui-rollout-lock", errors.New("modified"))
	})
	err := New(cs, "yelb").Acquire(context.Background(), "yelb-ui", "exec-1")
	if err == nil || !kube.IsTransient(err) {
		t.Fatalf("error %v: want a transient conflict", err)
	}
	if updates != attempts {
		t.Errorf("%d updates, want %d attempts", updates, attempts)
	}
}

func TestALockHeldForRecoveryNeverLapses(t *testing.T) {
	locks, _, ns := newLocks(t)
	ctx := context.Background()
	c := &clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	locks.Now = c.Now
	other := New(locks.leases, ns)
	other.Now = c.Now

	if err := locks.Hold(ctx, "yelb-ui", "exec-1", "apply VirtualRouter: forbidden"); err != nil {
		t.Fatalf("hold a lock that did not exist: %v", err)
	}
	c.Add(10 * DefaultDuration)
	err := other.Acquire(ctx, "yelb-ui", "exec-2")
	var held *HeldError
	if !errors.As(err, &held) || held.Recovery != "apply VirtualRouter: forbidden" || held.Holder() != "exec-1" {
		t.Fatalf("acquire of a lock held for recovery, long past its duration: %v", err)
	}
	if want := "canaryctl -n " + ns + " recover yelb-ui"; !strings.Contains(err.Error(), want) {
		t.Errorf("refusal %q does not name the recovery %q", err, want)
	}
	info, err := other.Holder(ctx, "yelb-ui")
	if err != nil || info == nil || info.Stale || info.Recovery == "" {
		t.Fatalf("holder info %+v, %v: want held for recovery, not stale", info, err)
	}
	if err := other.Hold(ctx, "yelb-ui", "exec-2", "x"); !errors.As(err, &held) {
		t.Errorf("another execution held a lock it does not have: %v", err)
	}
	if err := locks.Renew(ctx, "yelb-ui", "exec-1"); err != nil {
		t.Errorf("the holder cannot renew its held lock: %v", err)
	}
	if err := locks.Release(ctx, "yelb-ui", "exec-1"); err != nil {
		t.Fatal(err)
	}
	if err := other.Acquire(ctx, "yelb-ui", "exec-2"); err != nil {
		t.Errorf("acquire after the holder released: %v", err)
	}
	if info, _ := other.Holder(ctx, "yelb-ui"); info == nil || info.Recovery != "" {
		t.Errorf("a released recovery hold came back: %+v", info)
	}
}
