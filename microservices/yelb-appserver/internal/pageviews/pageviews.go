// Package pageviews counts page views in Redis under the key "pageviews", as
// the original Yelb did.
package pageviews

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/eks-canary/yelb-appserver/internal/outage"
)

// Key is the Redis key shared with the original Yelb.
const Key = "pageviews"

// Counter increments the page-view counter.
type Counter struct {
	client *redis.Client
}

// NewCounter wraps an open client.
func NewCounter(client *redis.Client) *Counter { return &Counter{client: client} }

// Increment adds one view and returns the new total. INCR's own reply is the
// total: the original's INCR followed by GET could return another request's
// value.
func (c *Counter) Increment(ctx context.Context) (int64, error) {
	n, err := c.client.Incr(ctx, Key).Result()
	if err != nil {
		return 0, fmt.Errorf("increment %s: %w", Key, classify(err))
	}
	return n, nil
}

// Ping checks that Redis answers.
func (c *Counter) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return classify(err)
	}
	return nil
}

// classify marks failures to reach Redis as outages. A server error reply is
// a fault, except the replies Redis sends while it cannot serve yet.
func classify(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) && !Transient(reply.Error()) {
		return err
	}
	return outage.New("redis", err)
}

// Transient reports whether a Redis error reply means "try again later":
// the dataset is still loading, the primary is down, or a script is busy.
func Transient(reply string) bool {
	for _, p := range []string{"LOADING", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN"} {
		if strings.HasPrefix(reply, p+" ") || reply == p {
			return true
		}
	}
	return false
}
