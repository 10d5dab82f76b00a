package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/eks-canary/platform/lambdas/kube/typed"
	"github.com/eks-canary/platform/lambdas/rollout"
)

// Pods lists the pods of the workload obj names (the version's Deployment
// or the in-place StatefulSet), found by the workload's own selector, and
// summarises their container statuses. A workload not created yet has none.
func (c *Client) Pods(ctx context.Context, obj *unstructured.Unstructured) ([]rollout.PodObservation, error) {
	ns, name := obj.GetNamespace(), obj.GetName()
	var sel *metav1.LabelSelector
	switch obj.GetKind() {
	case "Deployment":
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read deployment %s/%s: %w", ns, name, err)
		}
		sel = d.Spec.Selector
	case "StatefulSet":
		s, err := c.Clientset.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read statefulset %s/%s: %w", ns, name, err)
		}
		sel = s.Spec.Selector
	default:
		return nil, fmt.Errorf("pods of %s %s/%s: kind %q runs no pods to judge: want Deployment or StatefulSet", obj.GetKind(), ns, name, obj.GetKind())
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("pods of %s %s/%s: selector: %w", obj.GetKind(), ns, name, err)
	}
	return c.podsSelected(ctx, obj, selector)
}

// podsSelected observes the pods selector picks in obj's namespace, those
// being deleted left out.
func (c *Client) podsSelected(ctx context.Context, obj *unstructured.Unstructured, selector labels.Selector) ([]rollout.PodObservation, error) {
	list, err := c.listPods(ctx, obj.GetNamespace(), selector)
	if err != nil {
		return nil, fmt.Errorf("list pods of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	out := make([]rollout.PodObservation, 0, len(list.Items))
	for i := range list.Items {
		if p := &list.Items[i]; p.DeletionTimestamp == nil {
			out = append(out, PodObservation(p))
		}
	}
	return out, nil
}

// PodObservation summarises a pod's readiness and container statuses, init
// containers included (a crash-looping init container blocks the pod too).
func PodObservation(p *corev1.Pod) rollout.PodObservation {
	o := rollout.PodObservation{Name: p.Name}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			o.Ready, o.ReadyChanged = c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		c := rollout.ContainerObservation{Name: s.Name, Restarts: s.RestartCount}
		if w := s.State.Waiting; w != nil {
			c.Waiting, c.WaitingMessage = w.Reason, w.Message
		}
		last := s.LastTerminationState.Terminated
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			last = t // terminated now and not yet restarted
		}
		if last != nil {
			c.LastReason, c.LastMessage, c.LastExitCode = last.Reason, last.Message, last.ExitCode
		}
		o.Containers = append(o.Containers, c)
	}
	return o
}

// listPods reads pods from the API server's watch cache, no older than the
// newest pod list this client has seen in the namespace. A consistent list
// would wait for the cache to catch up with the engine's own route write,
// which changes no pod: about half of a traffic step's time. A cache that
// cannot serve that version (another API server behind the endpoint, just
// restarted) gets a consistent list instead, after typed.CachedReadWait at
// most.
func (c *Client) listPods(ctx context.Context, namespace string, selector labels.Selector) (*corev1.PodList, error) {
	pods := c.Clientset.CoreV1().Pods(namespace)
	consistent := metav1.ListOptions{LabelSelector: selector.String()}
	var list *corev1.PodList
	var err error
	if seen, ok := c.podsSeen.Load(namespace); ok {
		cached := consistent
		cached.ResourceVersion, cached.ResourceVersionMatch = seen.(string), metav1.ResourceVersionMatchNotOlderThan
		wait, cancel := context.WithTimeout(ctx, typed.CachedReadWait)
		list, err = pods.List(wait, cached)
		cancel()
	}
	if list == nil || err != nil {
		if list, err = pods.List(ctx, consistent); err != nil {
			return nil, err
		}
	}
	if list.ResourceVersion != "" {
		c.podsSeen.Store(namespace, list.ResourceVersion)
	}
	return list, nil
}
