package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/naming"
	"github.com/eks-canary/platform/lambdas/status"
)

// screen shows successive states: redrawn in place on a terminal, one line
// per change anywhere else (pipes, CI logs).
type screen struct {
	out   io.Writer
	tty   bool
	width func() int
	drawn int    // lines of the frame currently on the terminal
	last  string // last line written when not a terminal
}

func newScreen(out io.Writer) *screen {
	tty, width := isTerminal(out)
	return &screen{out: out, tty: tty, width: width}
}

// show draws snap, unless nothing visible changed.
func (s *screen) show(snap status.Snapshot) {
	if !s.tty {
		line := Line(snap)
		if line != s.last {
			fmt.Fprintln(s.out, line)
			s.last = line
		}
		return
	}
	lines := Frame(snap, s.width()-1)
	var b strings.Builder
	if s.drawn > 0 {
		// Up to the frame's first line, then clear everything below.
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", s.drawn)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	io.WriteString(s.out, b.String())
	s.drawn = len(lines)
}

// say prints a message under whatever is shown; the next frame starts below it.
func (s *screen) say(msg string) {
	fmt.Fprintln(s.out, msg)
	s.drawn = 0
	s.last = ""
}

// identity tells rollouts apart, so --next can skip the one already finished.
type identity struct {
	execution     string
	canaryVersion int
	startedAt     int64
}

func identityOf(st status.Status) identity {
	return identity{execution: st.Execution, canaryVersion: st.CanaryVersion, startedAt: st.StartedAt.UnixNano()}
}

// watchRollout follows one status ConfigMap with a watch (re-listing after
// any watch error) until the rollout reaches a terminal phase.
func watchRollout(ctx context.Context, client typed.Interface, namespace string, inv invocation, out *screen, stderr io.Writer) int {
	parent := ctx
	if inv.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, inv.timeout)
		defer cancel()
	}
	ops := status.NewOperator(client)
	first, err := ops.Get(ctx, namespace, inv.name)
	var notFound *status.NotFoundError
	skip := func(status.Status) bool { return false }
	switch {
	case errors.As(err, &notFound) && inv.next:
		out.say(fmt.Sprintf("Waiting for the first rollout of %s in namespace %s...", inv.name, namespace))
	case err != nil:
		return report(stderr, err)
	case inv.next && status.Terminal(first.Status.Phase):
		old := identityOf(first.Status)
		skip = func(st status.Status) bool { return identityOf(st) == old }
		out.say(fmt.Sprintf("Waiting for the next rollout of %s (last: %s %s).", inv.name, version(first.Status.CanaryVersion), first.Status.Phase))
	}

	name := naming.StatusConfigMap(inv.name)
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	cms := client.CoreV1().ConfigMaps(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			return cms.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			return cms.Watch(ctx, opts)
		},
	}

	var final status.Status
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.ConfigMap{}, nil, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return false, fmt.Errorf("status ConfigMap %s/%s was deleted while watching", namespace, name)
		case watch.Added, watch.Modified:
		default:
			return false, nil
		}
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if !ok {
			return false, nil
		}
		snap, err := status.Decode(cm)
		if err != nil {
			return false, err
		}
		if snap.Status.Phase == "" || skip(snap.Status) {
			return false, nil
		}
		out.show(snap)
		final = snap.Status
		return status.Terminal(snap.Status.Phase), nil
	})
	switch {
	case err == nil:
		msg, code := Outcome(final)
		out.say(msg)
		return code
	case parent.Err() != nil:
		fmt.Fprintln(stderr, "canaryctl: interrupted; the rollout goes on")
		return exitInterrupt
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "canaryctl: %s did not finish within --timeout %s; the rollout goes on\n", inv.name, inv.timeout)
		return exitTimeout
	default:
		return report(stderr, fmt.Errorf("watch %s/%s: %w", namespace, name, err))
	}
}
