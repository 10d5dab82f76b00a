// Package hooks runs rollout hooks: it builds the payload every hook
// receives, calls HTTP webhooks, judges the answers of Lambda hooks and
// decides which Lambda functions an environment lets hooks invoke. Jobs are
// in the job subpackage. Nothing here sequences a rollout: the engine calls
// these functions and the state machine invokes Lambda hooks.
package hooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/eks-canary/platform/lambdas/contract"
)

// OutputLimit bounds a hook's output kept in results and reasons, in bytes.
const OutputLimit = 512

// Payload is the JSON body an HTTP hook receives and the event a Lambda
// hook is invoked with. Name, Namespace, Phase, Checksum and Metadata are
// Flagger's webhook payload, so Flagger's load tester and existing gates
// work unchanged; the other fields are the rollout's own.
type Payload struct {
	Name      string            `json:"name"` // the microservice
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`    // the rollout's phase (status.Phase*)
	Checksum  string            `json:"checksum"` // identifies the canary: changes with image and version
	Metadata  map[string]string `json:"metadata,omitempty"`

	Microservice  string `json:"microservice"`
	Hook          string `json:"hook"`
	Point         string `json:"type"` // the hook point, e.g. "pre_traffic"
	Kind          string `json:"kind"`
	CanaryVersion int    `json:"canary_version"`
	CanaryImage   string `json:"canary_image"`
	// CanaryService is the canary's own Service, which takes requests
	// even at 0% (acceptance tests).
	CanaryService string `json:"canary_service"`
	StableVersion int    `json:"stable_version"` // 0 on a first deployment
	Weight        int    `json:"weight"`         // the canary's share of traffic now
	NextWeight    int    `json:"next_weight"`    // the share a confirm_traffic gate is asked about
	Execution     string `json:"execution"`
}

// Checksum identifies one canary version of one image.
func Checksum(image string, version int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d", image, version)))
	return hex.EncodeToString(sum[:8])
}

// Result is what a hook answered.
type Result struct {
	Passed bool
	Output string // cut to OutputLimit
}

// LambdaAnswer is the result a Lambda hook returns: {"ok": true} passes;
// {"ok": false, "message": "..."} fails with the message.
type LambdaAnswer struct {
	OK      *bool           `json:"ok"`
	Message json.RawMessage `json:"message,omitempty"`
}

// ErrDataLimitExceeded is the error Step Functions raises when a
// function's answer is larger than the 256 KiB it carries between states.
const ErrDataLimitExceeded = "States.DataLimitExceeded"

// JudgeLambda judges a Lambda hook from the function's result (the
// lambda:invoke integration's Payload) or, when the function failed, from
// the error and cause Step Functions caught.
func JudgeLambda(result json.RawMessage, errName, cause string) Result {
	if errName == ErrDataLimitExceeded {
		return Result{Output: Excerpt(`the function's answer is larger than the 256 KiB Step Functions carries between states: return {"ok": true} or {"ok": false, "message": "why"} with a message of a few lines`)}
	}
	if errName != "" {
		return Result{Output: Excerpt(fmt.Sprintf("the function failed: %s: %s", errName, causeMessage(cause)))}
	}
	var a LambdaAnswer
	if err := json.Unmarshal(result, &a); err != nil || a.OK == nil {
		return Result{Output: Excerpt(fmt.Sprintf(`the function returned %s: return {"ok": true} to pass or {"ok": false, "message": "why"} to fail`, Excerpt(string(result))))}
	}
	msg := string(a.Message)
	var text string
	if json.Unmarshal(a.Message, &text) == nil {
		msg = text
	}
	return Result{Passed: *a.OK, Output: Excerpt(msg)}
}

// causeMessage unwraps the errorMessage of a Lambda function error, which
// Step Functions passes as a JSON cause.
func causeMessage(cause string) string {
	var c struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &c) == nil && c.ErrorMessage != "" {
		return c.ErrorMessage
	}
	return cause
}

// Excerpt cuts s to OutputLimit bytes on a rune boundary, with
// control characters other than newlines and tabs made visible.
func Excerpt(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(strings.TrimSpace(s), "?"))
	if len(s) <= OutputLimit {
		return s
	}
	cut := OutputLimit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

var functionPattern = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_:$*-]+$`)

// ParseFunctions reads the environment's allowed hook functions
// (contract.EnvHookFunctions): comma-separated Lambda function ARNs, each
// either exact or a prefix ending in '*'.
func ParseFunctions(list string) ([]string, error) {
	var out, bad []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !functionPattern.MatchString(item) || (strings.Contains(item, "*") && strings.Index(item, "*") != len(item)-1) {
			bad = append(bad, fmt.Sprintf("%q", item))
			continue
		}
		out = append(out, item)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: %s: give Lambda function ARNs (arn:aws:lambda:<region>:<account>:function:<name>), or prefixes ending in '*' such as arn:aws:lambda:us-west-2:123456789012:function:canary-hook-*",
			contract.EnvHookFunctions, strings.Join(bad, ", "))
	}
	return out, nil
}

// FunctionAllowed reports whether a hook may invoke arn. An exact entry
// also allows the function's versions and aliases (name:qualifier), as the
// IAM policy built from the same list does.
func FunctionAllowed(arn string, allowed []string) bool {
	for _, a := range allowed {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(arn, prefix) {
				return true
			}
			continue
		}
		if arn == a || strings.HasPrefix(arn, a+":") {
			return true
		}
	}
	return false
}

// PolicyResources are the IAM resources that let the state machine invoke
// exactly the allowed functions: an exact ARN and its qualifiers, or a
// prefix pattern as it is.
func PolicyResources(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		out = append(out, a)
		if !strings.HasSuffix(a, "*") {
			out = append(out, a+":*")
		}
	}
	return out
}
