package status_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/status"
)

// The store carries the timeline from write to write on the API server,
// through both the guarded write and the write-if-unchanged fast path, and a
// written Status's own timeline cannot rewrite it.
func TestTimelineGrowsAcrossStoreWrites(t *testing.T) {
	ctx := context.Background()
	c, ns, eng := seed(t)
	st := running("timeline", 0)
	for w := 0; w <= 30; w += 10 {
		st.Weight, st.UpdatedAt = w, st.StartedAt.Add(time.Duration(w)*time.Second)
		st.Timeline = []status.Point{{Weight: 99}}
		if err := eng.Write(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	snap, _, err := eng.Load(ctx, "timeline")
	if err != nil {
		t.Fatal(err)
	}
	st.Weight, st.UpdatedAt = 40, st.StartedAt.Add(40*time.Second)
	if ok, err := eng.WriteIfUnchanged(ctx, snap, st); err != nil || !ok {
		t.Fatalf("write if unchanged: ok %v, err %v", ok, err)
	}
	got, err := status.Decode(getCM(t, c.Clientset, ns, "timeline"))
	if err != nil {
		t.Fatal(err)
	}
	var weights []int
	for _, p := range got.Status.Timeline {
		weights = append(weights, p.Weight)
	}
	if want := []int{0, 10, 20, 30, 40}; !slices.Equal(weights, want) {
		t.Fatalf("timeline weights %v, want %v", weights, want)
	}

	st.Execution, st.Weight, st.UpdatedAt = "exec-2", 0, st.UpdatedAt.Add(time.Minute)
	if err := eng.Write(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err = status.Decode(getCM(t, c.Clientset, ns, "timeline"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Status.Timeline); n != 1 {
		t.Fatalf("a new execution's timeline holds %d points, want 1: %+v", n, got.Status.Timeline)
	}
}
