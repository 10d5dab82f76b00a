package main

import (
	"testing"
	"time"

	"github.com/eks-canary/platform/lambdas/contract"
)

func TestRolloutTimeoutFromTheEnvironment(t *testing.T) {
	cases := []struct {
		value string
		want  time.Duration // zero: refused
	}{
		{"", contract.DefaultRolloutTimeout},
		{"10800", 3 * time.Hour},
		{"1", time.Second},
		{"0", 0},
		{"-300", 0},
		{"2h", 0},
		{" 7200", 0},
	}
	for _, c := range cases {
		got, err := rolloutTimeout(c.value)
		switch {
		case c.want == 0 && err == nil:
			t.Errorf("rolloutTimeout(%q) = %s, want a refusal", c.value, got)
		case c.want != 0 && (err != nil || got != c.want):
			t.Errorf("rolloutTimeout(%q) = %s, %v; want %s", c.value, got, err, c.want)
		}
	}
}
