package status

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/naming"
)

// Operator is the operator's side of the status store: it reads statuses
// and writes requests under field manager naming.ControlFieldManager, which
// owns only the paused and request keys.
type Operator struct {
	client typed.Interface
}

// NewOperator returns the operator's store.
func NewOperator(client typed.Interface) *Operator {
	return &Operator{client: client}
}

// Selector selects every rollout status ConfigMap.
const Selector = naming.LabelStatus + "=true"

// Snapshots returns every microservice's status in the namespace, sorted by
// namespace and name; namespace "" means all namespaces.
func (o *Operator) Snapshots(ctx context.Context, namespace string) ([]Snapshot, error) {
	list, err := o.client.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: Selector})
	if err != nil {
		return nil, fmt.Errorf("list rollout statuses in namespace %q: %w", namespace, err)
	}
	snaps := make([]Snapshot, 0, len(list.Items))
	for i := range list.Items {
		snap, err := Decode(&list.Items[i])
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, snap)
	}
	sort.Slice(snaps, func(i, j int) bool {
		a, b := snaps[i].Status, snaps[j].Status
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Microservice < b.Microservice
	})
	return snaps, nil
}

// List returns every microservice's status in the namespace.
func (o *Operator) List(ctx context.Context, namespace string) ([]Status, error) {
	snaps, err := o.Snapshots(ctx, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(snaps))
	for i, s := range snaps {
		out[i] = s.Status
	}
	return out, nil
}

// Get returns one microservice's status, control and history; an unknown
// microservice is a *NotFoundError listing the known ones.
func (o *Operator) Get(ctx context.Context, namespace, microservice string) (Snapshot, error) {
	cm, err := o.get(ctx, namespace, microservice)
	if err != nil {
		return Snapshot{}, err
	}
	return Decode(cm)
}

// History returns the microservice's finished rollouts, newest first.
func (o *Operator) History(ctx context.Context, namespace, microservice string) ([]Record, error) {
	snap, err := o.Get(ctx, namespace, microservice)
	if err != nil {
		return nil, err
	}
	return snap.History, nil
}

// Request validates action against the state it read and applies the
// operator's keys guarded by that state's resourceVersion: if the engine
// moved on or consumed a request in between, the apply fails with a conflict
// and the decision is made again on fresh state.
// It returns the state the request was decided on.
func (o *Operator) Request(ctx context.Context, namespace, microservice string, action Action) (Snapshot, error) {
	var decided Snapshot
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		cm, err := o.get(ctx, namespace, microservice)
		if err != nil {
			return err
		}
		snap, err := Decode(cm)
		if err != nil {
			return err
		}
		next, err := NextControl(snap, action)
		if err != nil {
			return err
		}
		decided = snap
		ac := corev1ac.ConfigMap(cm.Name, cm.Namespace).
			WithResourceVersion(cm.ResourceVersion).
			WithData(controlData(next))
		cms := o.client.CoreV1().ConfigMaps(namespace)
		out, err := cms.Apply(ctx, ac, metav1.ApplyOptions{FieldManager: naming.ControlFieldManager})
		if err != nil {
			return err
		}
		if out.UID != cm.UID {
			// Deleted after it was read: the apply created a new ConfigMap
			// holding only the request. Take it back, exactly that one.
			uid := out.UID
			if err := cms.Delete(ctx, out.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("remove ConfigMap %s recreated by a request after its deletion: %w", out.Name, err)
			}
			_, err := o.get(ctx, namespace, microservice)
			if err == nil {
				err = fmt.Errorf("status ConfigMap %s was replaced while the request was written; try again", out.Name)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("%s %s/%s: %w", action, namespace, microservice, err)
	}
	return decided, nil
}

func (o *Operator) get(ctx context.Context, namespace, microservice string) (*corev1.ConfigMap, error) {
	cm, err := o.client.CoreV1().ConfigMaps(namespace).Get(ctx, naming.StatusConfigMap(microservice), metav1.GetOptions{})
	if err == nil && cm.Labels[naming.LabelStatus] == "true" {
		return cm, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("read status of %s/%s: %w", namespace, microservice, err)
	}
	list, err := o.client.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: Selector})
	if err != nil {
		return nil, fmt.Errorf("list rollout statuses in namespace %q: %w", namespace, err)
	}
	nf := &NotFoundError{Namespace: namespace, Microservice: microservice}
	for _, item := range list.Items {
		nf.Known = append(nf.Known, item.Labels[naming.LabelMicroservice])
	}
	sort.Strings(nf.Known)
	return nil, nf
}
