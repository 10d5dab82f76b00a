package main

import "testing"

// A small round of make scale: every check of the bench holds for a few
// rollouts, a failing one among them, so the bench cannot rot between runs.
func TestSmallRoundEndsAsExpected(t *testing.T) {
	if err := run(6, 2, 30, ""); err != nil {
		t.Fatal(err)
	}
}
