package engine

import (
	"testing"
	"time"
)

func TestSpeedupMapsBetweenTheClocks(t *testing.T) {
	from := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		s               *Speedup
		wall, scheduled time.Time
		wait, slept     time.Duration
	}{
		{"none", nil, from.Add(time.Minute), from.Add(time.Minute), time.Minute, time.Minute},
		{"ten times", &Speedup{From: from, Factor: 10}, from.Add(time.Minute), from.Add(10 * time.Minute), time.Minute, 6 * time.Second},
		{"before From", &Speedup{From: from, Factor: 2}, from.Add(-time.Minute), from.Add(-2 * time.Minute), 10 * time.Second, 5 * time.Second},
		{"zero stays zero", &Speedup{From: from, Factor: 10}, time.Time{}, time.Time{}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.scheduled(tt.wall); !got.Equal(tt.scheduled) {
				t.Errorf("scheduled(%s) = %s, want %s", tt.wall, got, tt.scheduled)
			}
			if got := tt.s.wall(tt.scheduled); !got.Equal(tt.wall) {
				t.Errorf("wall(%s) = %s, want %s", tt.scheduled, got, tt.wall)
			}
			if got := tt.s.Wait(tt.wait); got != tt.slept {
				t.Errorf("Wait(%s) = %s, want %s", tt.wait, got, tt.slept)
			}
		})
	}
}

func TestEngineClocks(t *testing.T) {
	wall := time.Date(2026, 12, 7, 12, 1, 0, 0, time.UTC)
	e := &Engine{Now: func() time.Time { return wall }, Speedup: &Speedup{From: wall.Add(-time.Minute), Factor: 3}}
	if got, want := e.now(), wall.Add(2*time.Minute); !got.Equal(want) {
		t.Errorf("now() = %s, want the schedule two minutes ahead at %s", got, want)
	}
	if got := e.wallNow(); !got.Equal(wall) {
		t.Errorf("wallNow() = %s, want %s", got, wall)
	}
	if got := e.shown(e.now()); !got.Equal(wall) {
		t.Errorf("shown(now()) = %s, want the wall clock %s", got, wall)
	}
}
