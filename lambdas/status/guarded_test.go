package status_test

import (
	"context"
	"testing"

	"github.com/eks-canary/platform/lambdas/status"
)

func TestWriteIfUnchangedLosesToAnyWriteInBetween(t *testing.T) {
	c, ns, store := seed(t, running("shop", 10))
	ctx := context.Background()
	snap, _, err := store.Load(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := status.NewOperator(c.Clientset).Request(ctx, ns, "shop", status.ActionPause); err != nil {
		t.Fatal(err)
	}
	ok, err := store.WriteIfUnchanged(ctx, snap, running("shop", 20))
	if err != nil || ok {
		t.Fatalf("write over a changed status: ok %v, err %v", ok, err)
	}
	if got, _, _ := store.Load(ctx, "shop"); got.Status.Weight != 10 || !got.Control.Paused {
		t.Fatalf("the refused write changed the status: weight %d paused %v", got.Status.Weight, got.Control.Paused)
	}
	fresh, _, err := store.Load(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	ok, err = store.WriteIfUnchanged(ctx, fresh, running("shop", 20))
	if err != nil || !ok {
		t.Fatalf("write over an unchanged status: ok %v, err %v", ok, err)
	}
	got, _, _ := store.Load(ctx, "shop")
	if got.Status.Weight != 20 || !got.Control.Paused || len(got.History) != len(fresh.History) {
		t.Fatalf("after the write: weight %d paused %v history %d", got.Status.Weight, got.Control.Paused, len(got.History))
	}
}
