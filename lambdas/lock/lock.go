// Package lock allows one rollout per microservice at a time with a
// coordination.k8s.io/v1 Lease named naming.LockLease(svc), whose holder is
// the Step Functions execution running the rollout.
//
// Every change is a create (which fails if the Lease exists) or an update
// carrying the resourceVersion that was read (which fails if anyone wrote in
// between), so two executions racing for the same microservice cannot both
// win. A crashed holder's lease is taken over once it has not been renewed
// for its duration.
package lock

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/eks-canary/platform/lambdas/naming"
)

// DefaultDuration is how long a lease stays valid without renewal. It must
// exceed the longest gap between two engine steps of one rollout (a wait or
// an analysis interval), or a live rollout could be taken over.
const DefaultDuration = 30 * time.Minute

// AnnotationRecovery marks a lease whose holder's roll back failed; its value
// is the reason. Such a lease is never taken over, however old.
const AnnotationRecovery = "canary.eks-canary.dev/held-for-recovery"

// maxReason bounds the reason kept on the lease.
const maxReason = 1024

// attempts bounds retries after losing a race on the same Lease.
const attempts = 5

// Locks takes and releases the rollout locks of one namespace.
type Locks struct {
	leases    coordclient.LeasesGetter
	namespace string
	// Duration is how long a lease lasts without renewal.
	Duration time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns the locks of namespace.
func New(leases coordclient.LeasesGetter, namespace string) *Locks {
	return &Locks{leases: leases, namespace: namespace, Duration: DefaultDuration, Now: time.Now}
}

// HeldError says another execution holds the lock.
type HeldError struct {
	Microservice string
	Namespace    string
	HolderID     string
	Since        time.Time // when the holder acquired it
	RenewedAt    time.Time
	StaleAt      time.Time // when it may be taken over if not renewed
	// Recovery is set when the holder's roll back failed: the reason. The
	// lock is kept until an operator recovers the microservice.
	Recovery string
}

func (e *HeldError) Error() string {
	if e.Recovery != "" {
		return fmt.Sprintf("microservice %s in namespace %s is held by execution %s, whose roll back failed (%s): "+
			"no rollout starts until it is recovered: fix the cause, then run `canaryctl -n %s recover %s`",
			e.Microservice, e.Namespace, e.HolderID, e.Recovery, e.Namespace, e.Microservice)
	}
	return fmt.Sprintf("microservice %s in namespace %s is being rolled out by execution %s since %s (last renewed %s): "+
		"wait for that rollout to finish, or stop it with `canaryctl abort %s`; the lock lapses at %s if its holder stops renewing it",
		e.Microservice, e.Namespace, e.HolderID, e.Since.UTC().Format(time.RFC3339), e.RenewedAt.UTC().Format(time.RFC3339),
		e.Microservice, e.StaleAt.UTC().Format(time.RFC3339))
}

// Holder is the execution holding the lock.
func (e *HeldError) Holder() string { return e.HolderID }

// Info describes a held lock.
type Info struct {
	Holder    string
	Since     time.Time
	RenewedAt time.Time
	Duration  time.Duration
	Stale     bool // not renewed within Duration: the next Acquire takes it over
	// Recovery is the failed roll back's reason when the lease is held for
	// recovery; such a lease is never stale.
	Recovery string
}

// Acquire takes the lock of microservice for holder. Taking it again as the
// same holder renews it, so a retried step succeeds. A lock held by another
// execution returns *HeldError, unless that holder stopped renewing it
// longer than its duration ago.
func (l *Locks) Acquire(ctx context.Context, microservice, holder string) error {
	if holder == "" {
		return fmt.Errorf("acquire rollout lock of %s: holder is empty: pass the execution id", microservice)
	}
	name := naming.LockLease(microservice)
	for range attempts {
		lease, err := l.leases.Leases(l.namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = l.leases.Leases(l.namespace).Create(ctx, l.newLease(microservice, holder), metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // another execution created it first; judge its lease
			}
			if err != nil {
				return fmt.Errorf("create lease %s/%s: %w", l.namespace, name, err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read lease %s/%s: %w", l.namespace, name, err)
		}

		now := l.Now()
		current := holderOf(lease)
		switch {
		case current == holder:
			lease.Spec.RenewTime = micro(now)
		case lease.Annotations[AnnotationRecovery] != "" && current != "":
			return l.heldError(microservice, lease)
		case current == "" || l.stale(lease, now):
			lease.Spec.HolderIdentity = &holder
			lease.Spec.AcquireTime = micro(now)
			lease.Spec.RenewTime = micro(now)
			lease.Spec.LeaseDurationSeconds = l.durationSeconds()
			transitions := int32(1)
			if lease.Spec.LeaseTransitions != nil {
				transitions = *lease.Spec.LeaseTransitions + 1
			}
			lease.Spec.LeaseTransitions = &transitions
		default:
			return l.heldError(microservice, lease)
		}
		_, err = l.leases.Leases(l.namespace).Update(ctx, lease, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue // someone wrote in between; read again
		}
		if err != nil {
			return fmt.Errorf("update lease %s/%s: %w", l.namespace, name, err)
		}
		return nil
	}
	return contended("acquire", l.namespace, name)
}

// contended reports a lease that changed under every attempt as a conflict,
// which callers retry like any other optimistic-concurrency failure.
func contended(verb, namespace, name string) error {
	return apierrors.NewConflict(coordinationv1.Resource("leases"), name,
		fmt.Errorf("%s lease in namespace %s: it changed between read and write %d times in a row", verb, namespace, attempts))
}

// Renew extends the lock holder already has. A lease deleted by hand is
// taken again; a lease now held by someone else returns *HeldError: this
// execution lost the lock and must not go on changing the microservice.
func (l *Locks) Renew(ctx context.Context, microservice, holder string) error {
	name := naming.LockLease(microservice)
	for range attempts {
		lease, err := l.leases.Leases(l.namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return l.Acquire(ctx, microservice, holder)
		}
		if err != nil {
			return fmt.Errorf("read lease %s/%s: %w", l.namespace, name, err)
		}
		if holderOf(lease) != holder {
			return l.heldError(microservice, lease)
		}
		lease.Spec.RenewTime = micro(l.Now())
		_, err = l.leases.Leases(l.namespace).Update(ctx, lease, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("renew lease %s/%s: %w", l.namespace, name, err)
		}
		return nil
	}
	return contended("renew", l.namespace, name)
}

// Release frees the lock if holder has it, by deleting the Lease with its
// resourceVersion as precondition. A lock held by someone else, or already
// gone, is left alone: releasing twice is harmless.
func (l *Locks) Release(ctx context.Context, microservice, holder string) error {
	name := naming.LockLease(microservice)
	for range attempts {
		lease, err := l.leases.Leases(l.namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read lease %s/%s: %w", l.namespace, name, err)
		}
		if holderOf(lease) != holder {
			return nil
		}
		rv, uid := lease.ResourceVersion, lease.UID
		err = l.leases.Leases(l.namespace).Delete(ctx, name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{ResourceVersion: &rv, UID: &uid},
		})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("release lease %s/%s: %w", l.namespace, name, err)
		}
		return nil
	}
	return contended("release", l.namespace, name)
}

// Hold keeps the lock of microservice for holder until it is released
// explicitly: the holder's roll back failed and the microservice may be
// half rolled back, so no other rollout may take it over, however long the
// operator takes. reason says why; Acquire by others reports it. A lease
// that is gone is taken again first; one held by someone else is a
// *HeldError.
func (l *Locks) Hold(ctx context.Context, microservice, holder, reason string) error {
	name := naming.LockLease(microservice)
	if reason == "" {
		reason = "roll back failed"
	}
	if len(reason) > maxReason {
		reason = reason[:maxReason-3] + "..."
	}
	for range attempts {
		if err := l.Renew(ctx, microservice, holder); err != nil {
			return err
		}
		lease, err := l.leases.Leases(l.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("read lease %s/%s: %w", l.namespace, name, err)
		}
		if holderOf(lease) != holder {
			return l.heldError(microservice, lease)
		}
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[AnnotationRecovery] = reason
		_, err = l.leases.Leases(l.namespace).Update(ctx, lease, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("hold lease %s/%s for recovery: %w", l.namespace, name, err)
		}
		return nil
	}
	return contended("hold", l.namespace, name)
}

// Holder reports who holds the lock of microservice; nil if nobody does.
func (l *Locks) Holder(ctx context.Context, microservice string) (*Info, error) {
	name := naming.LockLease(microservice)
	lease, err := l.leases.Leases(l.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lease %s/%s: %w", l.namespace, name, err)
	}
	holder := holderOf(lease)
	if holder == "" {
		return nil, nil
	}
	return &Info{
		Holder:    holder,
		Since:     timeOf(lease.Spec.AcquireTime),
		RenewedAt: timeOf(lease.Spec.RenewTime),
		Duration:  leaseDuration(lease),
		Stale:     l.stale(lease, l.Now()),
		Recovery:  lease.Annotations[AnnotationRecovery],
	}, nil
}

func (l *Locks) newLease(microservice, holder string) *coordinationv1.Lease {
	now := l.Now()
	transitions := int32(0)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      naming.LockLease(microservice),
			Namespace: l.namespace,
			Labels: map[string]string{
				naming.LabelManagedBy:    naming.ManagedByValue,
				naming.LabelMicroservice: microservice,
			},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &holder,
			LeaseDurationSeconds: l.durationSeconds(),
			AcquireTime:          micro(now),
			RenewTime:            micro(now),
			LeaseTransitions:     &transitions,
		},
	}
}

func (l *Locks) durationSeconds() *int32 {
	d := l.Duration
	if d <= 0 {
		d = DefaultDuration
	}
	s := int32(d / time.Second)
	return &s
}

// stale: the holder has not renewed within the duration the lease declares.
// A lease held for recovery never is.
func (l *Locks) stale(lease *coordinationv1.Lease, now time.Time) bool {
	if lease.Annotations[AnnotationRecovery] != "" {
		return false
	}
	renewed := timeOf(lease.Spec.RenewTime)
	if renewed.IsZero() {
		renewed = timeOf(lease.Spec.AcquireTime)
	}
	return now.After(renewed.Add(leaseDuration(lease)))
}

func (l *Locks) heldError(microservice string, lease *coordinationv1.Lease) *HeldError {
	renewed := timeOf(lease.Spec.RenewTime)
	return &HeldError{
		Microservice: microservice,
		Namespace:    l.namespace,
		HolderID:     holderOf(lease),
		Since:        timeOf(lease.Spec.AcquireTime),
		RenewedAt:    renewed,
		StaleAt:      renewed.Add(leaseDuration(lease)),
		Recovery:     lease.Annotations[AnnotationRecovery],
	}
}

func leaseDuration(lease *coordinationv1.Lease) time.Duration {
	if lease.Spec.LeaseDurationSeconds == nil {
		return DefaultDuration
	}
	return time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
}

func holderOf(lease *coordinationv1.Lease) string {
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

func micro(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t)
	return &m
}

func timeOf(m *metav1.MicroTime) time.Time {
	if m == nil {
		return time.Time{}
	}
	return m.Time
}
