package naming

import "testing"

func TestPodMetaLabel(t *testing.T) {
	if got, want := PodMetaLabel(LabelVersion), "__meta_kubernetes_pod_label_canary_eks_canary_dev_version"; got != want {
		t.Errorf("PodMetaLabel(%q) = %q, want %q", LabelVersion, got, want)
	}
}
