package votes_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eks-canary/yelb-appserver/internal/outage"
	"github.com/eks-canary/yelb-appserver/internal/votes"
	"github.com/eks-canary/yelb-appserver/testenv"
)

// A database without the yelb schema is a fault (500), not an outage (503),
// and a missing restaurant row says how to fix it.
func TestStoreAgainstIncompleteDatabases(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE yelbdatabase"); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, pg.ConnString("yelbdatabase"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := votes.NewStore(pool)

	_, err = store.Vote(ctx, "ihop")
	if err == nil {
		t.Fatal("vote without a restaurants table succeeded")
	}
	if _, isOutage := outage.As(err); isOutage {
		t.Fatalf("missing table reported as an outage: %v", err)
	}

	if err := pg.Exec(ctx, "yelbdatabase", "CREATE TABLE restaurants (name char(30) PRIMARY KEY, count integer); INSERT INTO restaurants VALUES ('ihop', 41)"); err != nil {
		t.Fatal(err)
	}
	if n, err := store.Vote(ctx, "ihop"); err != nil || n != 42 {
		t.Fatalf("vote = %d, %v; want 42", n, err)
	}
	if _, err := store.Vote(ctx, "chipotle"); !errors.Is(err, votes.ErrMissingRow) {
		t.Fatalf("vote for a missing row = %v, want ErrMissingRow", err)
	}
	if _, err := store.Vote(ctx, "pizzahut"); !errors.Is(err, votes.ErrUnknownRestaurant) {
		t.Fatalf("vote for an unknown restaurant = %v", err)
	}
	counts, err := store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := votes.JSON(counts); got != `[{"name": "outback", "value": 0},{"name": "bucadibeppo", "value": 0},{"name": "ihop", "value": 42}, {"name": "chipotle", "value": 0}]` {
		t.Fatalf("counts with missing rows = %s", got)
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = store.Vote(ctx, "ihop")
	if o, isOutage := outage.As(err); !isOutage || o.Dependency != "postgres" {
		t.Fatalf("vote with the server down = %v, want a postgres outage", err)
	}
}
