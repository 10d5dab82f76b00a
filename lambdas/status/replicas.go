package status

// Replicas are the replica counts of a canary whose replicas follow its
// weight (canary_scale "proportional"). The stable version keeps its own
// count until the canary is promoted and it is removed.
type Replicas struct {
	Scale    string `json:"scale"`    // "proportional"
	Canary   int    `json:"canary"`   // what the canary workload is set to now
	Template int    `json:"template"` // the template's count: the canary's at 100% and the stable version's
	// Scaling is true while a shift waits for the canary's new replicas
	// to be ready.
	Scaling bool `json:"scaling,omitempty"`
}
