package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/hooks"
)

// Hook points, in the order a rollout reaches them.
const (
	HookPreRollout       = "pre_rollout"       // after the lock, before the canary exists
	HookPreTraffic       = "pre_traffic"       // the canary is ready and carries no traffic
	HookConfirmTraffic   = "confirm_traffic"   // before each traffic increase; holds while failing
	HookConfirmPromotion = "confirm_promotion" // before promotion; holds while failing
	HookPostRollout      = "post_rollout"      // after promotion; notify-only
	HookOnRollback       = "on_rollback"       // after a roll back; notify-only
)

// HookPoints lists every point, in rollout order.
func HookPoints() []string {
	return []string{HookPreRollout, HookPreTraffic, HookConfirmTraffic, HookConfirmPromotion, HookPostRollout, HookOnRollback}
}

// Hook kinds.
const (
	HookLambda = "lambda" // an AWS Lambda function invoked by the state machine
	HookHTTP   = "http"   // a webhook called by the engine
	HookJob    = "job"    // a Kubernetes Job from the template
)

// Hook limits and defaults, in seconds unless named otherwise.
const (
	MaxHooks            = 20
	MaxHookNameLength   = 30 // it becomes part of a Job's name
	MaxHookMetadata     = 16
	MaxHookMetadataSize = 2 << 10 // bytes of keys and values of one hook's metadata

	DefaultHTTPTimeout = 10
	MaxHTTPTimeout     = 60
	DefaultHTTPRetries = 2
	MaxHTTPRetries     = 5
	MaxLambdaTimeout   = 900 // Lambda's own limit: how long "Invoke hook function" waits
	DefaultJobTimeout  = 600
	MaxJobTimeout      = 86400
	DefaultHold        = 3600
	MaxHold            = 86400
)

// Hook is one rollout hook of deploy.json's "hooks" list.
type Hook struct {
	Name     string `json:"name"`
	Point    string `json:"point"`
	Kind     string `json:"kind"`
	URL      string `json:"url,omitempty"`      // kind http
	Function string `json:"function,omitempty"` // kind lambda: the function's ARN
	Job      string `json:"job,omitempty"`      // kind job: metadata.name of a Job in the template
	// Timeout bounds one run: an HTTP request, or how long the Job may
	// take to succeed. A Lambda hook is bounded by the function's own
	// timeout.
	Timeout int  `json:"timeout,omitempty"`
	Retries *int `json:"retries,omitempty"` // kind http: further attempts after a failed request
	// Hold is how long a confirm gate may keep failing before the rollout
	// rolls back (confirm_traffic and confirm_promotion only).
	Hold     int               `json:"hold,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`

	unknown []string // keys deploy.json gave that Hook has no field for
}

// UnmarshalJSON remembers unknown keys, so that a misspelt field is
// reported instead of silently ignored.
func (h *Hook) UnmarshalJSON(b []byte) error {
	type plain Hook
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	known := jsonFields(reflect.TypeOf(p))
	for k := range keys {
		if _, ok := known[k]; !ok {
			p.unknown = append(p.unknown, k)
		}
	}
	sort.Strings(p.unknown)
	*h = Hook(p)
	return nil
}

// Gate reports whether the hook's point holds while it fails.
func (h Hook) Gate() bool { return IsConfirmPoint(h.Point) }

// IsConfirmPoint reports whether hooks at point hold while failing.
func IsConfirmPoint(point string) bool {
	return point == HookConfirmTraffic || point == HookConfirmPromotion
}

// IsNotifyPoint reports whether hooks at point only report: their failure
// never changes the outcome.
func IsNotifyPoint(point string) bool { return point == HookPostRollout || point == HookOnRollback }

// HooksAt returns the hooks of one point, in deploy.json order.
func (s Spec) HooksAt(point string) []Hook {
	var out []Hook
	for _, h := range s.Hooks {
		if h.Point == point {
			out = append(out, h)
		}
	}
	return out
}

func (s *Spec) applyHookDefaults() {
	for i := range s.Hooks {
		h := &s.Hooks[i]
		if h.Timeout == 0 {
			switch h.Kind {
			case HookHTTP:
				h.Timeout = DefaultHTTPTimeout
			case HookJob:
				h.Timeout = DefaultJobTimeout
			}
		}
		if h.Kind == HookHTTP && h.Retries == nil {
			v := DefaultHTTPRetries
			h.Retries = &v
		}
		if h.Hold == 0 && h.Gate() {
			h.Hold = DefaultHold
		}
	}
}

var (
	hookName    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	functionArn = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$`)
	jobName     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// hookProblems checks the hooks whose defaults are applied.
func (s Spec) hookProblems() []FieldError {
	var out []FieldError
	if len(s.Hooks) > MaxHooks {
		out = append(out, FieldError{Field: "hooks", Value: strconv.Itoa(len(s.Hooks)) + " hooks", Problem: "are too many",
			Allowed: fmt.Sprintf("use at most %d", MaxHooks)})
	}
	seen := map[string]int{}
	for i, h := range s.Hooks {
		field := fmt.Sprintf("hooks[%d]", i)
		add := func(name, value, problem, allowed string) {
			out = append(out, FieldError{Field: field + name, Value: value, Problem: problem, Allowed: allowed})
		}
		for _, k := range h.unknown {
			allowed := "known fields: " + strings.Join(slices.Sorted(maps.Keys(jsonFields(reflect.TypeOf(h)))), ", ")
			if guess := closest(k, slices.Sorted(maps.Keys(jsonFields(reflect.TypeOf(h))))); guess != "" {
				allowed = fmt.Sprintf("did you mean %q?", field+"."+guess)
			}
			add("."+k, "", "is not a known field", allowed)
		}
		switch {
		case h.Name == "":
			add(".name", "", "is missing", "name the hook, e.g. \"acceptance-tests\": results and roll back reasons name it")
		case len(h.Name) > MaxHookNameLength || !hookName.MatchString(h.Name):
			add(".name", QuoteValue(h.Name), "is not allowed",
				fmt.Sprintf("use at most %d lower-case letters, digits and '-', starting and ending with a letter or digit", MaxHookNameLength))
		default:
			if j, dup := seen[h.Name]; dup {
				add(".name", QuoteValue(h.Name), fmt.Sprintf("is already used by hooks[%d]", j), "give every hook its own name")
			}
			seen[h.Name] = i
		}
		if !slices.Contains(HookPoints(), h.Point) {
			v, problem := QuoteValue(h.Point), "is not a known hook point"
			if h.Point == "" {
				v, problem = "", "is missing"
			}
			add(".point", v, problem, quoteAll(HookPoints()))
		}
		kinds := []string{HookLambda, HookHTTP, HookJob}
		switch h.Kind {
		case HookHTTP:
			if h.URL == "" {
				add(".url", "", "is missing", "give the webhook's address, e.g. \"http://loadtester.test/gate\"")
			} else if problem, fix := webhookURLProblem(h.URL); problem != "" {
				add(".url", shownURL(h.URL), problem, fix)
			}
			if h.Timeout < 1 || h.Timeout > MaxHTTPTimeout {
				add(".timeout", strconv.Itoa(h.Timeout), "is not allowed", fmt.Sprintf("use 1..%d seconds per request", MaxHTTPTimeout))
			}
			// The whole call's budget (every attempt and pause) is
			// checked with the plan's other limits, in budget.go.
			if retries := *h.Retries; retries < 0 || retries > MaxHTTPRetries {
				add(".retries", strconv.Itoa(retries), "is not allowed", fmt.Sprintf("use 0..%d", MaxHTTPRetries))
			}
		case HookLambda:
			switch {
			case h.Function == "":
				add(".function", "", "is missing", "give the Lambda function's ARN, e.g. \"arn:aws:lambda:us-west-2:123456789012:function:canary-acceptance\"")
			case !functionArn.MatchString(h.Function):
				add(".function", QuoteValue(h.Function), "is not a Lambda function ARN",
					"use arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>]")
			}
			if h.Timeout != 0 {
				add(".timeout", strconv.Itoa(h.Timeout), "is not used by kind \"lambda\"",
					fmt.Sprintf("remove timeout and set the function's own timeout (Lambda allows up to %d s): the state machine waits for the function as long as it runs", MaxLambdaTimeout))
			}
		case HookJob:
			switch {
			case h.Job == "":
				add(".job", "", "is missing", "name a Job of kubernetes_template.yml (its metadata.name)")
			case len(h.Job) > 63 || !jobName.MatchString(h.Job):
				add(".job", QuoteValue(h.Job), "is not a Job name", "use the metadata.name of a Job in kubernetes_template.yml")
			}
			if h.Timeout < 1 || h.Timeout > MaxJobTimeout {
				add(".timeout", strconv.Itoa(h.Timeout), "is not allowed", fmt.Sprintf("use 1..%d seconds the Job may take to succeed", MaxJobTimeout))
			}
		case "":
			add(".kind", "", "is missing", quoteAll(kinds))
		default:
			add(".kind", QuoteValue(h.Kind), "is not a known hook kind", quoteAll(kinds))
		}
		if h.Kind != HookHTTP && h.URL != "" {
			add(".url", shownURL(h.URL), "is only for kind \"http\"", "remove url or set kind \"http\"")
		}
		if h.Kind != HookLambda && h.Function != "" {
			add(".function", QuoteValue(h.Function), "is only for kind \"lambda\"", "remove function or set kind \"lambda\"")
		}
		if h.Kind != HookJob && h.Job != "" {
			add(".job", QuoteValue(h.Job), "is only for kind \"job\"", "remove job or set kind \"job\"")
		}
		if h.Kind != HookHTTP && h.Retries != nil {
			add(".retries", strconv.Itoa(*h.Retries), "is only for kind \"http\"", "remove retries: Lambda invocations retry only on service errors, and a Job retries by its backoffLimit")
		}
		switch {
		case h.Hold != 0 && !h.Gate():
			add(".hold", strconv.Itoa(h.Hold), "is only for points \"confirm_traffic\" and \"confirm_promotion\"",
				"remove hold: hooks at "+QuoteValue(h.Point)+" do not hold, their failure acts at once")
		case h.Gate() && (h.Hold < 1 || h.Hold > MaxHold):
			add(".hold", strconv.Itoa(h.Hold), "is not allowed", fmt.Sprintf("use 1..%d seconds the gate may keep failing before the rollout rolls back", MaxHold))
		}
		size := 0
		for k, v := range h.Metadata {
			size += len(k) + len(v)
		}
		if len(h.Metadata) > MaxHookMetadata || size > MaxHookMetadataSize {
			add(".metadata", fmt.Sprintf("%d entries, %s", len(h.Metadata), FormatSize(size)), "is too large",
				fmt.Sprintf("use at most %d entries and %s: it travels in the rollout's state", MaxHookMetadata, FormatSize(MaxHookMetadataSize)))
		}
	}
	return out
}

// numericHost is a name made only of numbers, which some resolvers read as
// an IPv4 address in octal, hex or as one integer (0177.1, 2130706433).
var numericHost = regexp.MustCompile(`^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*$`)

// webhookURLProblem judges a webhook URL by itself: what the environment
// allows (private networks) is judged by WebhookAddressProblem. The dialer
// applies the same address rules to what a name resolves to.
func webhookURLProblem(raw string) (problem, fix string) {
	const absolute = "give an absolute URL such as \"https://hooks.example.com/canary\""
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "is not an http(s) URL", absolute
	case u.User != nil:
		return "carries credentials (user:password@)",
			"remove them: the URL travels in the execution's input and history; use a webhook that needs no credentials in its URL, or one that authenticates by a token in its path (the engine never shows a path)"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("has port %s", p), "use a port 1..65535, or none for the scheme's default"
		}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := hooks.AddressProblem(ip, hooks.PrivateRanges()); why != "" {
			return why, "give the webhook's own address: the engine's host, its metadata and credentials services are never reachable"
		}
		return "", ""
	}
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return "names the host itself", "give the webhook's own address: the engine's host is never reachable"
	case host == "kubernetes" || strings.HasPrefix(host, "kubernetes.default") || strings.HasSuffix(host, ".svc") || strings.HasSuffix(host, ".svc.cluster.local"):
		return "is a cluster-internal name (the API server, *.svc, *.svc.cluster.local)",
			"call the webhook by a name outside the cluster's DNS, e.g. an internal load balancer's, and allow its network with the stack configuration key " + contract.ConfigHookAllowedCIDRs
	case numericHost.MatchString(host):
		return "is a number that resolvers may read as an IP address", "write an IP address as a.b.c.d, or use a name"
	}
	return "", ""
}

// WebhookAddressProblem judges a webhook URL whose host is a literal IP
// address against the environment's allowed private networks (allowed);
// the engine's Validate calls it with contract.EnvHookAllowedCIDRs. A name
// is judged when the dialer connects to what it resolves to.
func WebhookAddressProblem(field, raw string, allowed []netip.Prefix) (FieldError, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return FieldError{}, false // Parse has refused it
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(u.Hostname(), "."))
	if err != nil {
		return FieldError{}, false
	}
	why := hooks.AddressProblem(ip, allowed)
	if why == "" {
		return FieldError{}, false
	}
	return FieldError{Field: field, Value: shownURL(raw), Problem: why,
		Allowed: fmt.Sprintf("allow the network with the stack configuration key %s (`pulumi config set --path '%s[0]' 10.20.0.0/16`), which sets %s, then run pulumi up; canary-run takes --hook-allow",
			contract.ConfigHookAllowedCIDRs, contract.ConfigHookAllowedCIDRs, contract.EnvHookAllowedCIDRs)}, true
}

// shownURL is a hook URL as a refusal may show it: scheme://host:port.
func shownURL(raw string) string {
	if shown := hooks.RedactURL(raw); shown != "" {
		return QuoteValue(shown)
	}
	return ""
}
