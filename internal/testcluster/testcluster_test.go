package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eks-canary/platform/lambdas/kube/typed"
)

var plane Shared

func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }

func TestMissingBinariesSayHowToBuildThem(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{BinDir: dir, UpstreamDir: dir, GatewayAPICRDs: dir})
	if err == nil {
		t.Fatal("New succeeded without binaries")
	}
	for _, want := range []string{"scripts/build-control-plane.sh", "kube-apiserver", "kwok", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "etcd,") {
		t.Errorf("error %q lists etcd, which is present", err)
	}
}

func TestMissingCRDsSayHowToRestoreThem(t *testing.T) {
	dir := t.TempDir()
	_, err := loadCRDs(dir, dir)
	if err == nil {
		t.Fatal("loadCRDs succeeded without CRDs")
	}
	for _, want := range []string{"appmesh-controller-1.13.3/crds/crds.yaml", "dnsendpoints.externaldns.k8s.io.yaml", "git checkout -- testdata/upstream", "testdata/upstream/README.md"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadCRDsKeepsOnlyCRDs(t *testing.T) {
	opts := Options{BinDir: "unused"}
	if err := opts.resolve(); err != nil {
		t.Fatal(err)
	}
	crds, err := loadCRDs(opts.UpstreamDir, opts.GatewayAPICRDs)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, crd := range crds {
		if crd.GetKind() != "CustomResourceDefinition" {
			t.Errorf("loaded %s %s, want only CRDs", crd.GetKind(), crd.GetName())
		}
		names[crd.GetName()] = true
	}
	for _, want := range []string{
		"virtualrouters.appmesh.k8s.aws", "virtualnodes.appmesh.k8s.aws", "virtualservices.appmesh.k8s.aws", "meshes.appmesh.k8s.aws",
		"targetgrouppolicies.application-networking.k8s.aws", "serviceexports.application-networking.k8s.aws",
		"dnsendpoints.externaldns.k8s.io", "httproutes.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io", "gatewayclasses.gateway.networking.k8s.io",
	} {
		if !names[want] {
			t.Errorf("CRD %s not loaded (have %d CRDs)", want, len(crds))
		}
	}
}

func TestNamespaceNamesAreValidAndUnique(t *testing.T) {
	c := plane.Get(t)
	a, b := c.Namespace(t), c.Namespace(t)
	if a == b {
		t.Fatalf("two namespaces named %s", a)
	}
	if !strings.HasPrefix(a, "testnamespacenamesarevalidandunique-") {
		t.Errorf("namespace %s does not derive from the test name", a)
	}
	if _, err := c.Clientset.CoreV1().Namespaces().Get(context.Background(), a, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s not created: %v", a, err)
	}
}

func TestKubeconfigFileIsUsableByClientcmd(t *testing.T) {
	c := plane.Get(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Host, "https://127.0.0.1:") {
		t.Errorf("server %s is not on loopback", cfg.Host)
	}
	cs, err := typed.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	node, err := cs.CoreV1().Nodes().Get(context.Background(), NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node through the kubeconfig: %v", err)
	}
	if node.Annotations["kwok.x-k8s.io/node"] != "fake" {
		t.Errorf("node %s is not managed by kwok: %v", node.Name, node.Annotations)
	}
}

func TestCustomResourcesAreServed(t *testing.T) {
	c := plane.Get(t)
	for gv, resource := range map[string]string{
		"appmesh.k8s.aws/v1beta2":                 "virtualrouters",
		"gateway.networking.k8s.io/v1":            "httproutes",
		"application-networking.k8s.aws/v1alpha1": "targetgrouppolicies",
		"externaldns.k8s.io/v1alpha1":             "dnsendpoints",
		"coordination.k8s.io/v1":                  "leases",
	} {
		list, err := c.Clientset.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil {
			t.Errorf("discovery of %s: %v", gv, err)
			continue
		}
		found := false
		for _, r := range list.APIResources {
			found = found || r.Name == resource
		}
		if !found {
			t.Errorf("%s does not serve %s", gv, resource)
		}
	}
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	c := plane.Get(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	if _, err := c.Clientset.AppsV1().Deployments(ns).Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, ns, "web", 2)

	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != NodeName || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s on node %q in phase %s, want running on %s", p.Name, p.Spec.NodeName, p.Status.Phase, NodeName)
		}
	}

	// A new image rolls out and the old pods are removed.
	dep, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep.Spec.Template.Spec.Containers[0].Image = "example.com/web:v2"
	if _, err := c.Clientset.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		if len(pods.Items) != 2 {
			return false, nil
		}
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != "example.com/web:v2" || p.Status.Phase != corev1.PodRunning {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("new image did not replace the old pods: %v", err)
	}
}

// The platform's templates pin their pods to Graviton nodes.
func TestArm64LinuxPodsAreScheduled(t *testing.T) {
	c := plane.Get(t)
	ns := c.Namespace(t)
	dep := deployment("graviton", 1)
	dep.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/arch": "arm64", "kubernetes.io/os": "linux"}
	if _, err := c.Clientset.AppsV1().Deployments(ns).Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, ns, "graviton", 1)
}

func TestStatefulSetBecomesReady(t *testing.T) {
	c := plane.Get(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	replicas := int32(2)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template:    podTemplate("db"),
		},
	}
	if _, err := c.Clientset.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		live, err := c.Clientset.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return live.Status.ObservedGeneration == live.Generation && live.Status.ReadyReplicas == 2 && live.Status.UpdatedReplicas == 2, nil
	})
	if err != nil {
		t.Fatalf("statefulset never became ready: %v", err)
	}
}

// BenchmarkStart measures a whole plane from nothing to a running pod, and its stop.
func BenchmarkStart(b *testing.B) {
	var started time.Duration
	for b.Loop() {
		c, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		started += c.StartupTime
		c.Stop()
	}
	b.ReportMetric(started.Seconds()/float64(b.N), "start-s/op")
}

// BenchmarkDeploymentAvailable measures create-to-Available of a 2-replica Deployment.
func BenchmarkDeploymentAvailable(b *testing.B) {
	c := plane.Get(b)
	ns := c.Namespace(b)
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprintf("web-%d", i)
		if _, err := c.Clientset.AppsV1().Deployments(ns).Create(context.Background(), deployment(name, 2), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitAvailable(b, c, ns, name, 2)
	}
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: "example.com/" + app + ":v1"}}},
	}
}

func waitAvailable(t testing.TB, c *Cluster, ns, name string, replicas int32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if d.Status.ObservedGeneration != d.Generation || d.Status.AvailableReplicas != replicas || d.Status.UpdatedReplicas != replicas {
			return false, nil
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("deployment %s/%s never became available: %v", ns, name, err)
	}
}
