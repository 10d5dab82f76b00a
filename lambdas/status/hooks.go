package status

import "time"

// HookResult is one check of a rollout hook.
type HookResult struct {
	Hook   string    `json:"hook"`
	Point  string    `json:"point"`
	Kind   string    `json:"kind"`
	Passed bool      `json:"passed"`
	Output string    `json:"output,omitempty"` // the hook's answer or error, cut short (hooks.OutputLimit)
	At     time.Time `json:"at"`
}

// HookResultLimit is how many hook results a status keeps, newest first.
const HookResultLimit = 8
