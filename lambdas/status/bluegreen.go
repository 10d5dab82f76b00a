package status

import "time"

// Stages of a blue-green rollout, as canaryctl and the dashboard show them.
const (
	StagePreview  = "preview"  // the new version at 0%, reached only through its preview route
	StageSwitched = "switched" // all traffic moved to the new version in one route write
	StageBaking   = "baking"   // analysed at 100% for bake_time
	StageOldKept  = "old-kept" // bake passed; the old version still runs for an instant roll back
)

// BlueGreen is the progress of a blue-green rollout with a stable version.
type BlueGreen struct {
	Stage string `json:"stage"`
	// Preview says how to reach the new version before the switch, e.g.
	// "host shop-preview.shop.example.internal".
	Preview string `json:"preview,omitempty"`
	// OldKeptUntil is when the old version goes, in stage "old-kept".
	OldKeptUntil *time.Time `json:"oldKeptUntil,omitempty"`
}
