package rollout

import "testing"

func TestCanaryReplicas(t *testing.T) {
	for _, tt := range []struct {
		template, weight, floor, want int
	}{
		{4, 0, 1, 1},     // deployed before any traffic: the floor
		{4, 25, 1, 1},    // 1.0
		{4, 26, 1, 2},    // 1.04 rounds up: never fewer pods than the share
		{4, 50, 1, 2},    // 2.0
		{4, 75, 1, 3},    // 3.0
		{4, 100, 1, 4},   // the template's count at full traffic
		{10, 5, 1, 1},    // 0.5 rounds up
		{10, 10, 3, 3},   // the floor wins over the share
		{10, 40, 3, 4},   // the share wins over the floor
		{2, 10, 5, 2},    // the template caps the floor
		{3, 33, 1, 1},    // 0.99
		{3, 34, 1, 2},    // 1.02
		{1, 1, 1, 1},     // one replica stays one
		{0, 50, 1, 0},    // a template scaled to zero stays at zero
		{4, 150, 1, 4},   // weights above 100 are 100
		{4, -10, 1, 1},   // weights below 0 are 0
		{100, 99, 1, 99}, // no overflow or rounding drift near the top
	} {
		if got := CanaryReplicas(tt.template, tt.weight, tt.floor); got != tt.want {
			t.Errorf("CanaryReplicas(template %d, weight %d, floor %d) = %d, want %d", tt.template, tt.weight, tt.floor, got, tt.want)
		}
	}
}
