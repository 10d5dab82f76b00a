package engine

import (
	"context"
	"time"
)

// Speedup runs the engine's schedule faster than the wall clock, for demos
// (canary-run --speed). The engine then keeps two times: its decisions
// (how long a step has run, when the next check is due) run on a clock that
// passes Factor times faster from From, while every time a person reads
// (status, history, hook results, metric windows) and every time the
// cluster reports (a pod's readiness) stays on the wall clock. Without it
// the two are the same.
type Speedup struct {
	From   time.Time // where both clocks agree
	Factor float64   // > 1 runs faster
}

// Wait is how long to sleep for a wait of d on the schedule.
func (s *Speedup) Wait(d time.Duration) time.Duration {
	if s == nil {
		return d
	}
	return time.Duration(float64(d) / s.Factor)
}

// scheduled maps a wall-clock instant onto the schedule's clock.
func (s *Speedup) scheduled(wall time.Time) time.Time {
	if s == nil || wall.IsZero() {
		return wall
	}
	return s.From.Add(time.Duration(float64(wall.Sub(s.From)) * s.Factor))
}

// wall maps an instant of the schedule's clock back onto the wall clock.
func (s *Speedup) wall(scheduled time.Time) time.Time {
	if s == nil || scheduled.IsZero() {
		return scheduled
	}
	return s.From.Add(s.Wait(scheduled.Sub(s.From)))
}

// Sleep waits d of the schedule, or until ctx ends.
func (s *Speedup) Sleep(ctx context.Context, d time.Duration) error {
	return sleepFor(ctx, s.Wait(d))
}

// sleepFor waits d, or until ctx ends.
func sleepFor(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// now is the schedule's clock: what the engine's decisions compare.
func (e *Engine) now() time.Time { return e.Speedup.scheduled(e.wallNow()) }

// wallNow is the time a person reads.
func (e *Engine) wallNow() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// shown is a schedule instant as a person reads it.
func (e *Engine) shown(t time.Time) time.Time { return e.Speedup.wall(t) }
