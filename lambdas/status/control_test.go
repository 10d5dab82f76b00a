package status

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNextControl(t *testing.T) {
	finishedAt := time.Date(2026, 11, 25, 18, 40, 0, 0, time.UTC)
	running := Status{Microservice: "yelb-appserver", Phase: PhaseProgressing}
	paused := Status{Microservice: "yelb-appserver", Phase: PhasePaused}
	done := Status{Microservice: "yelb-appserver", Phase: PhaseSucceeded, UpdatedAt: finishedAt}
	rolledBack := Status{Microservice: "yelb-appserver", Phase: PhaseRolledBack, UpdatedAt: finishedAt}
	empty := Status{Microservice: "yelb-appserver"}

	tests := []struct {
		name    string
		status  Status
		control Control
		action  Action
		want    Control
		refused string // substring of the refusal; empty means accepted
	}{
		{name: "pause running", status: running, action: ActionPause, want: Control{Paused: true}},
		{name: "pause keeps pending promote", status: running, control: Control{Request: RequestPromote}, action: ActionPause,
			want: Control{Paused: true, Request: RequestPromote}},
		{name: "pause twice", status: paused, control: Control{Paused: true}, action: ActionPause, refused: "yelb-appserver is already paused"},
		{name: "pause finished", status: done, action: ActionPause, refused: "yelb-appserver has no rollout in progress (last: Succeeded at 2026-11-25T18:40:00Z)"},
		{name: "pause before any status", status: empty, action: ActionPause, refused: "has no rollout in progress (the engine has not reported one yet)"},
		{name: "resume paused", status: paused, control: Control{Paused: true}, action: ActionResume, want: Control{}},
		{name: "resume after the rollout ended clears a stale pause", status: rolledBack, control: Control{Paused: true}, action: ActionResume, want: Control{}},
		{name: "resume not paused", status: running, action: ActionResume, refused: "yelb-appserver is not paused"},
		{name: "promote running", status: running, action: ActionPromote, want: Control{Request: RequestPromote}},
		{name: "promote ends a pause", status: paused, control: Control{Paused: true}, action: ActionPromote, want: Control{Request: RequestPromote}},
		{name: "promote waiting", status: Status{Microservice: "yelb-appserver", Phase: PhaseWaiting}, action: ActionPromote, want: Control{Request: RequestPromote}},
		{name: "promote finished", status: done, action: ActionPromote, refused: "yelb-appserver has no rollout in progress (last: Succeeded at 2026-11-25T18:40:00Z)"},
		{name: "promote rolled back", status: rolledBack, action: ActionPromote, refused: "(last: RolledBack at 2026-11-25T18:40:00Z)"},
		{name: "promote twice", status: running, control: Control{Request: RequestPromote}, action: ActionPromote, refused: "a promote is already pending"},
		{name: "promote over abort", status: running, control: Control{Request: RequestAbort}, action: ActionPromote, refused: "an abort is already pending for yelb-appserver; promote refused"},
		{name: "abort running", status: running, action: ActionAbort, want: Control{Request: RequestAbort}},
		{name: "abort replaces promote", status: running, control: Control{Request: RequestPromote}, action: ActionAbort, want: Control{Request: RequestAbort}},
		{name: "abort while baking", status: Status{Microservice: "yelb-appserver", Phase: PhaseBaking}, action: ActionAbort, want: Control{Request: RequestAbort}},
		{name: "abort twice", status: running, control: Control{Request: RequestAbort}, action: ActionAbort, refused: "an abort is already pending"},
		{name: "abort finished", status: done, action: ActionAbort, refused: "has no rollout in progress (last: Succeeded"},
		{name: "abort failed rollout", status: Status{Microservice: "yelb-appserver", Phase: PhaseFailed, UpdatedAt: finishedAt}, action: ActionAbort, refused: "(last: Failed at"},
		{name: "unknown action", status: running, action: "restart", refused: `unknown action "restart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NextControl(Snapshot{Status: tt.status, Control: tt.control}, tt.action)
			if tt.refused != "" {
				var refused *RefusedError
				if !errors.As(err, &refused) {
					t.Fatalf("want a refusal containing %q, got control %+v, error %v", tt.refused, got, err)
				}
				if !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("refusal %q does not contain %q", err, tt.refused)
				}
				if refused.Action != tt.action || refused.Microservice != "yelb-appserver" {
					t.Fatalf("refusal names %s %q, want %s yelb-appserver", refused.Action, refused.Microservice, tt.action)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected refusal: %v", err)
			}
			if got != tt.want {
				t.Fatalf("control = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNotFoundErrorListsKnownMicroservices(t *testing.T) {
	tests := []struct {
		known []string
		want  string
	}{
		{known: []string{"yelb-appserver", "yelb-ui"}, want: `unknown microservice "yelb-app" in namespace "yelb" (no ConfigMap yelb-app-rollout); known microservices: yelb-appserver, yelb-ui`},
		{known: nil, want: `unknown microservice "yelb-app" in namespace "yelb" (no ConfigMap yelb-app-rollout); no microservice has a rollout status in this namespace yet`},
	}
	for _, tt := range tests {
		err := &NotFoundError{Namespace: "yelb", Microservice: "yelb-app", Known: tt.known}
		if err.Error() != tt.want {
			t.Errorf("got  %s\nwant %s", err, tt.want)
		}
	}
}
