package kube

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/eks-canary/platform/internal/testcluster"
	"github.com/eks-canary/platform/lambdas/naming"
)

var plane testcluster.Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

func obj(t testing.TB, text string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func deploymentYAML(ns, name string, replicas int, extra string) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: ` + ns + `
  labels:
    app.kubernetes.io/managed-by: canary-engine
    canary.eks-canary.dev/microservice: yelb-ui
    canary.eks-canary.dev/version: "3"
spec:
  replicas: ` + strconv.Itoa(replicas) + `
  selector: {matchLabels: {app: yelb-ui, version: "3"}}
  template:
    metadata: {labels: {app: yelb-ui, version: "3"}}
    spec:
      containers:
        - name: yelb-ui
          image: example.com/yelb-ui:3
` + extra
}

func newClient(t *testing.T) (*Client, *testcluster.Cluster, string) {
	t.Helper()
	cluster := plane.Get(t)
	cfg, err := FromKubeconfig(cluster.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, cluster, cluster.Namespace(t)
}

func TestApplyIsIdempotentAndOwnedByTheEngine(t *testing.T) {
	c, _, ns := newClient(t)
	ctx := context.Background()

	// No controller writes a ConfigMap, so an unchanged resourceVersion
	// proves the second apply wrote nothing.
	cm := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"`+ns+`"},"data":{"a":"1"}}`)
	first, err := c.Apply(ctx, cm)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Apply(ctx, cm)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetResourceVersion() != second.GetResourceVersion() {
		t.Errorf("re-applying the same ConfigMap wrote it again: resourceVersion %s -> %s", first.GetResourceVersion(), second.GetResourceVersion())
	}
	managers := map[string]bool{}
	for _, mf := range second.GetManagedFields() {
		managers[mf.Manager+"/"+string(mf.Operation)] = true
	}
	if !managers[naming.FieldManager+"/Apply"] {
		t.Errorf("managed fields %v lack %s/Apply", managers, naming.FieldManager)
	}

	// A Deployment's status moves on; its spec (generation) must not.
	d := obj(t, deploymentYAML(ns, "yelb-ui-3", 2, ""))
	applied, err := c.Apply(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	// A live object read back can be applied as is (server-set metadata is dropped).
	live, err := c.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if live.GetUID() != applied.GetUID() {
		t.Errorf("get returned another object (uid %s, applied %s)", live.GetUID(), applied.GetUID())
	}
	again, err := c.Apply(ctx, live)
	if err != nil {
		t.Fatalf("apply of a live object: %v", err)
	}
	if again.GetGeneration() != applied.GetGeneration() {
		t.Errorf("re-applying the same Deployment changed its spec: generation %d -> %d", applied.GetGeneration(), again.GetGeneration())
	}
}

func TestForceTakesOverConflictingFieldsOnly(t *testing.T) {
	c, cluster, ns := newClient(t)
	ctx := context.Background()
	if _, err := c.Apply(ctx, obj(t, deploymentYAML(ns, "yelb-ui-3", 2, ""))); err != nil {
		t.Fatal(err)
	}
	// Someone scales by hand and adds an annotation of their own.
	patch := []byte(`{"metadata":{"annotations":{"team/owner":"web"}},"spec":{"replicas":5}}`)
	if _, err := cluster.Clientset.AppsV1().Deployments(ns).Patch(ctx, "yelb-ui-3", types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	// Without force this apply would be a conflict on spec.replicas.
	noForce := New(cluster.Clientset, cluster.Dynamic)
	_, err := noForce.Dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(ns).
		Apply(ctx, "yelb-ui-3", obj(t, deploymentYAML(ns, "yelb-ui-3", 2, "")), metav1.ApplyOptions{FieldManager: naming.FieldManager})
	if !apierrors.IsConflict(err) {
		t.Fatalf("apply without force: %v, want a conflict (the premise of forcing)", err)
	}

	live, err := c.Apply(ctx, obj(t, deploymentYAML(ns, "yelb-ui-3", 2, "")))
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	replicas, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	if replicas != 2 {
		t.Errorf("replicas %d after forced apply, want the engine's 2", replicas)
	}
	if live.GetAnnotations()["team/owner"] != "web" {
		t.Errorf("annotations %v: a field the engine does not send was removed", live.GetAnnotations())
	}
}

func TestApplyAnyCRDKindAndRefreshDiscovery(t *testing.T) {
	c, _, ns := newClient(t)
	ctx := context.Background()
	vn := obj(t, `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: yelb-ui-3, namespace: `+ns+`}
spec:
  awsName: yelb-ui-3-virtual-node
  podSelector: {matchLabels: {app: yelb-ui, version: "3"}}
  listeners: [{portMapping: {port: 80, protocol: http}}]
  serviceDiscovery: {dns: {hostname: yelb-ui-3.`+ns+`.svc.cluster.local}}
`)
	if _, err := c.Apply(ctx, vn); err != nil {
		t.Fatalf("apply VirtualNode: %v", err)
	}

	// A kind unknown to the cached discovery: clear error, no request made.
	unknown := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"`+ns+`"}}`)
	_, err := c.Apply(ctx, unknown)
	if err == nil || !strings.Contains(err.Error(), "Widget") || !strings.Contains(err.Error(), "install its CRD") {
		t.Fatalf("unknown kind: %v", err)
	}

	// Installed later, it is found without building a new client.
	crd := obj(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`)
	if _, err := c.Apply(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), crd) })
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.Apply(ctx, unknown)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("CR of a CRD installed after the client was built never applied: %v", err)
	}
}

func TestApplyRefusesIncompleteObjects(t *testing.T) {
	c, _, _ := newClient(t)
	for name, tt := range map[string]struct{ text, want string }{
		"no namespace": {`{"apiVersion":"v1","kind":"Service","metadata":{"name":"yelb-ui"}}`, "no metadata.namespace"},
		"no name":      {`{"apiVersion":"v1","kind":"Service","metadata":{"namespace":"yelb"}}`, "no metadata.name"},
		"no kind":      {`{"apiVersion":"v1","metadata":{"name":"x","namespace":"yelb"}}`, "no apiVersion or kind"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Apply(context.Background(), obj(t, tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDeleteAndDeleteByLabels(t *testing.T) {
	c, cluster, ns := newClient(t)
	ctx := context.Background()
	svc := func(name, version string) *unstructured.Unstructured {
		return obj(t, `
apiVersion: v1
kind: Service
metadata:
  name: `+name+`
  namespace: `+ns+`
  labels:
    app.kubernetes.io/managed-by: canary-engine
    canary.eks-canary.dev/microservice: yelb-ui
    canary.eks-canary.dev/version: "`+version+`"
spec:
  ports: [{port: 80}]
`)
	}
	for _, o := range []*unstructured.Unstructured{svc("yelb-ui-2", "2"), svc("yelb-ui-3", "3"), obj(t, deploymentYAML(ns, "yelb-ui-3", 1, ""))} {
		if _, err := c.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	kinds := []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Version: "v1", Kind: "Service"},
		{Group: "appmesh.k8s.aws", Version: "v1beta2", Kind: "VirtualNode"},
	}
	deleted, err := c.DeleteByLabels(ctx, ns, VersionSelector("yelb-ui", 3), kinds...)
	if err != nil {
		t.Fatal(err)
	}
	want := []Deleted{{Kind: "Deployment", Name: "yelb-ui-3"}, {Kind: "Service", Name: "yelb-ui-3"}}
	if len(deleted) != len(want) || deleted[0] != want[0] || deleted[1] != want[1] {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	if _, err := cluster.Clientset.CoreV1().Services(ns).Get(ctx, "yelb-ui-2", metav1.GetOptions{}); err != nil {
		t.Errorf("version 2's Service was deleted with version 3: %v", err)
	}
	again, err := c.DeleteByLabels(ctx, ns, VersionSelector("yelb-ui", 3), kinds...)
	if err != nil || len(again) != 0 {
		t.Errorf("second delete: %v, %v; want nothing and no error", again, err)
	}
	if _, err := c.DeleteByLabels(ctx, ns, "", kinds...); err == nil || !strings.Contains(err.Error(), "empty selector") {
		t.Errorf("empty selector: %v", err)
	}

	if err := c.Delete(ctx, svc("yelb-ui-2", "2")); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, svc("yelb-ui-2", "2")); err != nil {
		t.Errorf("deleting an absent object: %v", err)
	}
}

func TestReadinessOfRealWorkloads(t *testing.T) {
	c, _, ns := newClient(t)
	ctx := context.Background()
	waitFor := func(o *unstructured.Unstructured, done func(Readiness) bool) Readiness {
		t.Helper()
		var last Readiness
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			r, err := c.Readiness(ctx, o)
			last = r
			return done(r), err
		})
		if err != nil {
			t.Fatalf("%s %s: %v (last: %+v)", o.GetKind(), o.GetName(), err, last)
		}
		return last
	}

	d := obj(t, deploymentYAML(ns, "yelb-ui-3", 2, ""))
	if r, err := c.Readiness(ctx, d); err != nil || r.Ready || r.Failed || !strings.Contains(r.Reason, "does not exist yet") {
		t.Fatalf("readiness before create: %+v, %v", r, err)
	}
	if _, err := c.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	r := waitFor(d, func(r Readiness) bool { return r.Ready })
	if r.Failed || !strings.Contains(r.Reason, "2 of 2") {
		t.Errorf("ready deployment: %+v", r)
	}

	// Never schedulable, with a short deadline: the controller gives up.
	stuck := obj(t, deploymentYAML(ns, "yelb-ui-4", 1, `      nodeSelector: {no-such-node: "true"}
  progressDeadlineSeconds: 1
`))
	stuck.SetName("yelb-ui-4")
	if _, err := c.Apply(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	r = waitFor(stuck, func(r Readiness) bool { return r.Failed })
	if r.Ready || !strings.Contains(r.Reason, "progress deadline") {
		t.Errorf("stuck deployment: %+v", r)
	}

	sts := obj(t, `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: yelb-db, namespace: `+ns+`}
spec:
  replicas: 1
  serviceName: yelb-db
  selector: {matchLabels: {app: yelb-db}}
  template:
    metadata: {labels: {app: yelb-db}}
    spec: {containers: [{name: yelb-db, image: "example.com/yelb-db:1"}]}
`)
	if _, err := c.Apply(ctx, sts); err != nil {
		t.Fatal(err)
	}
	waitFor(sts, func(r Readiness) bool { return r.Ready })
	// In place: a new image rolls the one pod and is ready again at the new revision.
	if err := unstructured.SetNestedSlice(sts.Object, []any{map[string]any{"name": "yelb-db", "image": "example.com/yelb-db:2"}},
		"spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, sts); err != nil {
		t.Fatal(err)
	}
	waitFor(sts, func(r Readiness) bool { return r.Ready })
	pod, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, "yelb-db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if image := pod.Spec.Containers[0].Image; image != "example.com/yelb-db:2" {
		t.Errorf("statefulset reported ready while its pod still runs %s", image)
	}

	svc := obj(t, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x","namespace":"`+ns+`"}}`)
	if _, err := c.Readiness(ctx, svc); err == nil || !strings.Contains(err.Error(), "want Deployment or StatefulSet") {
		t.Errorf("readiness of a Service: %v", err)
	}
}

// Pod lists after the first are served from the watch cache no older than
// the last one; a version the cache cannot serve falls back to a
// consistent list, so a pod is never missed for it.
func TestPodListsAreNeverOlderThanTheLastOne(t *testing.T) {
	c, cluster, ns := newClient(t)
	ctx := context.Background()
	d := obj(t, deploymentYAML(ns, "yelb-ui-3", 1, ""))
	if _, err := c.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := c.PodsOf(ctx, d)
		return len(pods) == 1, err
	}); err != nil {
		t.Fatalf("the deployment's pod never showed: %v", err)
	}
	seen, ok := c.podsSeen.Load(ns)
	if !ok || seen.(string) == "" {
		t.Fatal("the pod list's resourceVersion was not kept")
	}

	// A write after the list: the next list must include it.
	pod, err := cluster.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=yelb-ui"})
	if err != nil || len(pod.Items) != 1 {
		t.Fatalf("pods: %v, %v", pod, err)
	}
	p := pod.Items[0]
	p.Labels["checked"] = "yes"
	updated, err := cluster.Clientset.CoreV1().Pods(ns).Update(ctx, &p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.podsSeen.Store(ns, updated.ResourceVersion)
	list, err := c.listPods(ctx, ns, labels.SelectorFromSet(labels.Set{"app": "yelb-ui"}))
	if err != nil || len(list.Items) != 1 || list.Items[0].Labels["checked"] != "yes" {
		t.Fatalf("list no older than the update: %+v, %v", list, err)
	}

	// A version the cache has not reached (another API server behind the
	// endpoint): a consistent list answers.
	c.podsSeen.Store(ns, "999999999999")
	pods, err := c.PodsOf(ctx, d)
	if err != nil || len(pods) != 1 {
		t.Fatalf("with a version ahead of the cache: %d pods, %v; want the pod from a consistent list", len(pods), err)
	}
	if seen, _ := c.podsSeen.Load(ns); seen.(string) == "999999999999" {
		t.Error("the version ahead of the cache was kept")
	}
}
