package specs

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Every pod of the sample passes Pod Security "restricted", judged by the
// API server's own PodSecurity admission: a pod made from each template's
// pod template is created (dry run) in a namespace that enforces it. With
// App Mesh the injector adds an Envoy sidecar and an init container later,
// at admission in the cluster; those are the controller's, not the
// template's, and are not judged here.
func TestPodsPassPodSecurityRestricted(t *testing.T) {
	c := plane.Get(t)
	ctx := context.Background()
	ns := c.Namespace(t)
	live, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Labels == nil {
		live.Labels = map[string]string{}
	}
	live.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	live.Labels["pod-security.kubernetes.io/enforce-version"] = "latest"
	if _, err := c.Clientset.CoreV1().Namespaces().Update(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The check has teeth: a pod that may run as root is refused.
	root := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/c:1"}}},
	}
	_, err = c.Clientset.CoreV1().Pods(ns).Create(ctx, root, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("a pod with no security context: %v, want it refused by PodSecurity restricted", err)
	}

	for _, s := range services {
		for _, rn := range routerNames {
			t.Run(s.name+"/"+rn, func(t *testing.T) {
				r := render(t, s, rn, ns, 3, 100)
				kind, name := "Deployment", s.name+"-3"
				if s.inPlace {
					kind, name = "StatefulSet", s.name
				}
				w := find(t, r, kind, name)
				tmpl, _, _ := unstructured.NestedMap(w.Object, "spec", "template")
				pod := &corev1.Pod{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, pod); err != nil {
					t.Fatal(err)
				}
				pod.Name, pod.Namespace = name+"-pod", ns
				claims, _, _ := unstructured.NestedSlice(w.Object, "spec", "volumeClaimTemplates")
				for _, cl := range claims {
					claim, _, _ := unstructured.NestedString(cl.(map[string]any), "metadata", "name")
					pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: claim, VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim + "-" + name + "-0"},
					}})
				}
				if _, err := c.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
					t.Fatalf("PodSecurity restricted refuses the %s pod: %v", kind, err)
				}
			})
		}
	}
}
