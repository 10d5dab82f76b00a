package rollout

// CanaryReplicas is the replica count of a canary whose replicas follow its
// weight (canary_scale "proportional"): ceil(template × weight / 100), at
// least floor, never more than the template's count, which is what the
// canary runs at 100% and keeps once promoted. A template of 0 replicas
// stays at 0.
func CanaryReplicas(template, weight, floor int) int {
	if template <= 0 {
		return 0
	}
	weight = min(max(weight, 0), 100)
	n := (template*weight + 99) / 100
	return min(max(n, floor), template)
}
