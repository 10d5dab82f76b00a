package status

import "time"

// HookResult is one check of a rollout hook.
type HookResult struct {
	Hook   string `json:"hook"`
	Point  string `json:"point"`
	Kind   string `json:"kind"`
	Passed bool   `json:"passed"`
	// Output is the hook's answer or error, cut short (hooks.OutputLimit).
	// It names a webhook by scheme://host:port only: its path and
	// credentials can be secrets, and the status is readable in the namespace.
	Output string    `json:"output,omitempty"`
	At     time.Time `json:"at"`
}

// HookResultLimit is how many hook results a status keeps, newest first.
const HookResultLimit = 8
