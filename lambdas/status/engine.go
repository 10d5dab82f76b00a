package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/naming"
)

// conflictBackoff retries read-modify-write cycles that lost a race with the
// other side; a handful of tries is plenty for two writers per ConfigMap.
var conflictBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: time.Second}

// Engine is the engine's side of the status store for one namespace. It owns
// the status, summary and history keys (field manager naming.FieldManager)
// and never sends the operator's keys, so the two sides never conflict.
type Engine struct {
	client    typed.Interface
	namespace string
	now       func() time.Time
}

// NewEngine returns the engine's store for the application namespace.
func NewEngine(client typed.Interface, namespace string) *Engine {
	return &Engine{client: client, namespace: namespace, now: time.Now}
}

// Load returns the microservice's status ConfigMap, if there is one. The
// engine reads it before a rollout to learn the stable and last versions.
func (e *Engine) Load(ctx context.Context, microservice string) (Snapshot, bool, error) {
	cm, err := e.client.CoreV1().ConfigMaps(e.namespace).Get(ctx, naming.StatusConfigMap(microservice), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("read status of %s/%s: %w", e.namespace, microservice, err)
	}
	snap, err := Decode(cm)
	return snap, err == nil, err
}

// LoadNotOlderThan is Load served from the API server's watch cache, no
// older than resourceVersion (one the caller read before). A quorum read
// waits on etcd: on a traffic step that is a quarter of the step's time,
// for a status the step before already read. Anything the cache cannot
// answer at once (no such version yet behind this endpoint, no object)
// gets a quorum read instead, after typed.CachedReadWait at most.
func (e *Engine) LoadNotOlderThan(ctx context.Context, microservice, resourceVersion string) (Snapshot, bool, error) {
	if resourceVersion == "" {
		return e.Load(ctx, microservice)
	}
	wait, cancel := context.WithTimeout(ctx, typed.CachedReadWait)
	cm, err := e.client.CoreV1().ConfigMaps(e.namespace).Get(wait, naming.StatusConfigMap(microservice), metav1.GetOptions{ResourceVersion: resourceVersion})
	cancel()
	if err != nil {
		return e.Load(ctx, microservice)
	}
	snap, err := Decode(cm)
	return snap, err == nil, err
}

// Write replaces the microservice's status and its plain summary keys.
// UpdatedAt defaults to now and Namespace to the store's namespace.
func (e *Engine) Write(ctx context.Context, st Status) error {
	if st.Microservice == "" {
		return errors.New("write status: field microservice is empty; set Status.Microservice")
	}
	if st.Namespace == "" {
		st.Namespace = e.namespace
	}
	if st.Namespace != e.namespace {
		return fmt.Errorf("write status of %s: field namespace is %q but this store writes to %q; use a store for that namespace", st.Microservice, st.Namespace, e.namespace)
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = e.now()
	}
	err := e.update(ctx, st.Microservice, func(snap *Snapshot, _ bool) error {
		st.Timeline = extendTimeline(snap.Status, st)
		snap.Status = st
		return nil
	})
	if err != nil {
		return fmt.Errorf("write status of %s/%s (phase %s, weight %d%%): %w", e.namespace, st.Microservice, st.Phase, st.Weight, err)
	}
	return nil
}

// Finish puts a finished rollout at the head of the history, keeping the
// newest HistoryLimit records. FinishedAt defaults to now.
func (e *Engine) Finish(ctx context.Context, rec Record) error {
	if rec.Microservice == "" {
		return errors.New("record finished rollout: field microservice is empty; set Record.Microservice")
	}
	if rec.FinishedAt.IsZero() {
		rec.FinishedAt = e.now()
	}
	err := e.update(ctx, rec.Microservice, func(snap *Snapshot, found bool) error {
		if !found {
			return fmt.Errorf("no status ConfigMap %s: Write the rollout's status before Finish", naming.StatusConfigMap(rec.Microservice))
		}
		snap.History = append([]Record{rec}, snap.History...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record finished rollout of %s/%s version %d: %w", e.namespace, rec.Microservice, rec.CanaryVersion, err)
	}
	return nil
}

// update applies the engine's keys after change, guarded by the
// resourceVersion it read so that a concurrent write is never overwritten
// with stale history.
func (e *Engine) update(ctx context.Context, microservice string, change func(*Snapshot, bool) error) error {
	name := naming.StatusConfigMap(microservice)
	cms := e.client.CoreV1().ConfigMaps(e.namespace)
	return retry.RetryOnConflict(conflictBackoff, func() error {
		var snap Snapshot
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		found := err == nil
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return err
		default:
			if snap, err = Decode(cm); err != nil {
				return err
			}
		}
		if err := change(&snap, found); err != nil {
			return err
		}
		rv := ""
		if found {
			rv = cm.ResourceVersion
		}
		return e.apply(ctx, microservice, snap, rv)
	})
}

// apply writes the engine's keys of snap; a non-empty resourceVersion makes
// the write fail with a conflict if the ConfigMap changed since it was read.
func (e *Engine) apply(ctx context.Context, microservice string, snap Snapshot, resourceVersion string) error {
	data, err := engineData(snap.Status, snap.History)
	if err != nil {
		return err
	}
	ac := corev1ac.ConfigMap(naming.StatusConfigMap(microservice), e.namespace).
		WithLabels(map[string]string{
			naming.LabelStatus:       "true",
			naming.LabelMicroservice: microservice,
			naming.LabelManagedBy:    naming.ManagedByValue,
		}).
		WithData(data)
	if resourceVersion != "" {
		ac.WithResourceVersion(resourceVersion)
	}
	// Force: these keys are the engine's alone; a hand edit must not
	// block a rollout.
	_, err = e.client.CoreV1().ConfigMaps(e.namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: naming.FieldManager, Force: true})
	return err
}

// WriteIfUnchanged writes st only if the status is still the snapshot the
// caller read (same resourceVersion), saving a read on the engine's hot
// path. It reports false when anything wrote in between (an operator
// request, a roll back from outside); the caller reads again and decides.
func (e *Engine) WriteIfUnchanged(ctx context.Context, snap Snapshot, st Status) (bool, error) {
	if snap.ResourceVersion == "" {
		return false, nil
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = e.now()
	}
	st.Timeline = extendTimeline(snap.Status, st)
	snap.Status = st
	err := e.apply(ctx, st.Microservice, snap, snap.ResourceVersion)
	if apierrors.IsConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write status of %s/%s (phase %s, weight %d%%): %w", e.namespace, st.Microservice, st.Phase, st.Weight, err)
	}
	return true, nil
}

// Acknowledge removes the pending request only if it is still request, for
// an engine that decided on the control it read with Load. A request the
// operator replaced in between (an abort over a promote) stays for the next
// step instead of being cleared unseen. It reports whether request was
// removed.
func (e *Engine) Acknowledge(ctx context.Context, microservice, request string) (bool, error) {
	if request == "" {
		return false, fmt.Errorf("acknowledge operator request for %s/%s: request is empty; want %q or %q", e.namespace, microservice, RequestPromote, RequestAbort)
	}
	cleared, err := e.clearRequest(ctx, microservice, request)
	if err != nil {
		return false, fmt.Errorf("acknowledge %s request for %s/%s: %w", request, e.namespace, microservice, err)
	}
	return cleared, nil
}

// clearRequest removes the pending request when it equals only.
func (e *Engine) clearRequest(ctx context.Context, microservice, only string) (bool, error) {
	cms := e.client.CoreV1().ConfigMaps(e.namespace)
	var cleared bool
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		cleared = false
		cm, err := cms.Get(ctx, naming.StatusConfigMap(microservice), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		snap, err := Decode(cm)
		if err != nil {
			return err
		}
		if snap.Control.Request != only {
			return nil
		}
		without := cm.DeepCopy()
		delete(without.Data, KeyRequest)
		if _, err := cms.Update(ctx, without, metav1.UpdateOptions{FieldManager: naming.FieldManager}); err != nil {
			return err
		}
		cleared = true
		return nil
	})
	return cleared, err
}
