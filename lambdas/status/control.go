package status

import (
	"fmt"
	"strings"
	"time"

	"github.com/eks-canary/platform/lambdas/naming"
)

// Action is something an operator asks of a running rollout.
type Action string

// Operator actions.
const (
	ActionPause   Action = "pause"
	ActionResume  Action = "resume"
	ActionPromote Action = "promote"
	ActionAbort   Action = "abort"
)

// RefusedError is a request the rollout's current state does not allow.
// Nothing was written.
type RefusedError struct {
	Microservice string
	Action       Action
	Reason       string
}

func (e *RefusedError) Error() string { return e.Reason }

// NotFoundError is a microservice without a status ConfigMap: the engine has
// never rolled it out in that namespace, or the name is mistyped.
type NotFoundError struct {
	Namespace    string
	Microservice string
	Known        []string
}

func (e *NotFoundError) Error() string {
	known := "no microservice has a rollout status in this namespace yet"
	if len(e.Known) > 0 {
		known = "known microservices: " + strings.Join(e.Known, ", ")
	}
	return fmt.Sprintf("unknown microservice %q in namespace %q (no ConfigMap %s); %s",
		e.Microservice, e.Namespace, naming.StatusConfigMap(e.Microservice), known)
}

// NextControl decides what the operator's keys become when action is asked
// of the rollout in snap, or why it is refused. Promote and abort end a pause:
// they are explicit decisions that supersede holding the weight. Abort also
// replaces a pending promote, because stopping is always the safe choice;
// the reverse is refused.
func NextControl(snap Snapshot, action Action) (Control, error) {
	st, c := snap.Status, snap.Control
	svc := st.Microservice
	refuse := func(format string, args ...any) (Control, error) {
		return c, &RefusedError{Microservice: svc, Action: action, Reason: fmt.Sprintf(format, args...)}
	}
	inProgress := st.Phase != "" && !Terminal(st.Phase)
	notRunning := func() (Control, error) {
		if st.Phase == "" {
			return refuse("%s has no rollout in progress (the engine has not reported one yet)", svc)
		}
		return refuse("%s has no rollout in progress (last: %s at %s)", svc, st.Phase, st.UpdatedAt.UTC().Format(time.RFC3339))
	}
	switch action {
	case ActionPause:
		if !inProgress {
			return notRunning()
		}
		if c.Paused {
			return refuse("%s is already paused; resume it with: canaryctl resume %s", svc, svc)
		}
		c.Paused = true
	case ActionResume:
		if !c.Paused {
			return refuse("%s is not paused", svc)
		}
		c.Paused = false
	case ActionPromote:
		if !inProgress {
			return notRunning()
		}
		switch c.Request {
		case RequestAbort:
			return refuse("an abort is already pending for %s; promote refused", svc)
		case RequestPromote:
			return refuse("a promote is already pending for %s", svc)
		}
		c.Paused, c.Request = false, RequestPromote
	case ActionAbort:
		if !inProgress {
			return notRunning()
		}
		if c.Request == RequestAbort {
			return refuse("an abort is already pending for %s", svc)
		}
		c.Paused, c.Request = false, RequestAbort
	default:
		return refuse("unknown action %q: want pause, resume, promote or abort", action)
	}
	return c, nil
}
