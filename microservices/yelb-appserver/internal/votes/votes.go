// Package votes keeps the restaurant vote counts in PostgreSQL (database
// yelbdatabase, table restaurants), as the original Yelb did.
package votes

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/eks-canary/yelb-appserver/internal/outage"
)

// Restaurants are the four choices, in the order the original getvotes
// listed them.
var Restaurants = []string{"outback", "bucadibeppo", "ihop", "chipotle"}

// ErrUnknownRestaurant is returned for a name outside Restaurants.
var ErrUnknownRestaurant = errors.New("unknown restaurant")

// ErrMissingRow means the restaurants table lacks a known restaurant: the
// database was not initialised by the yelb-db init script.
var ErrMissingRow = errors.New("restaurant row missing")

// Count is one restaurant's tally.
type Count struct {
	Name  string
	Value int64
}

// Known reports whether name is one of the four restaurants.
func Known(name string) bool {
	for _, r := range Restaurants {
		if r == name {
			return true
		}
	}
	return false
}

// Store reads and writes the counts through a connection pool.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore wraps an open pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Vote adds one vote and returns the new count. The single UPDATE ...
// RETURNING makes the increment atomic, so concurrent votes are each counted
// exactly once.
func (s *Store) Vote(ctx context.Context, restaurant string) (int64, error) {
	if !Known(restaurant) {
		return 0, fmt.Errorf("vote for %q: %w", restaurant, ErrUnknownRestaurant)
	}
	var count int64
	err := s.pool.QueryRow(ctx,
		`UPDATE restaurants SET count = count + 1 WHERE name = $1 RETURNING count`, restaurant).Scan(&count)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("vote for %q: %w; run the yelb-db init script", restaurant, ErrMissingRow)
	}
	if err != nil {
		return 0, fmt.Errorf("vote for %q: %w", restaurant, classify(err))
	}
	return count, nil
}

// Counts returns the four tallies in the original order; a missing row
// counts as zero votes.
func (s *Store) Counts(ctx context.Context) ([]Count, error) {
	rows, err := s.pool.Query(ctx, `SELECT trim(name), count FROM restaurants WHERE trim(name) = ANY($1)`, Restaurants)
	if err != nil {
		return nil, fmt.Errorf("read votes: %w", classify(err))
	}
	byName := map[string]int64{}
	var name string
	var count *int64
	_, err = pgx.ForEachRow(rows, []any{&name, &count}, func() error {
		if count != nil {
			byName[strings.TrimSpace(name)] = *count
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read votes: %w", classify(err))
	}
	out := make([]Count, len(Restaurants))
	for i, r := range Restaurants {
		out[i] = Count{Name: r, Value: byName[r]}
	}
	return out, nil
}

// Ping checks that PostgreSQL answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return classify(err)
	}
	return nil
}

// JSON renders counts byte for byte as the original getvotes did, spaces
// included, so existing clients parse it unchanged.
func JSON(counts []Count) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range counts {
		switch {
		case i == len(counts)-1 && i > 0:
			b.WriteString(", ")
		case i > 0:
			b.WriteByte(',')
		}
		b.WriteString(`{"name": "`)
		b.WriteString(c.Name)
		b.WriteString(`", "value": `)
		b.WriteString(strconv.FormatInt(c.Value, 10))
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}

// classify marks connection-level failures as outages. A server error is an
// outage only when its SQLSTATE says the server is going away, starting up
// or out of connections; any other server error is a real fault (500).
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if Unavailable(pgErr.Code) {
			return outage.New("postgres", err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return outage.New("postgres", err)
}

// Unavailable reports whether a SQLSTATE means the database cannot serve now:
// class 08 (connection exception), 53 (insufficient resources) and 57P01-57P03
// (shutdown, crash, cannot connect now).
func Unavailable(sqlstate string) bool {
	switch {
	case strings.HasPrefix(sqlstate, "08"), strings.HasPrefix(sqlstate, "53"):
		return true
	case sqlstate == "57P01", sqlstate == "57P02", sqlstate == "57P03":
		return true
	}
	return false
}
