package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/eks-canary/platform/lambdas/contract"
)

// AB is the A/B stage: before any weighted step, requests whose headers
// match go to the canary and all others stay on the stable version, for
// Duration seconds of analysis. A passing stage continues with the plan's
// weighted steps (percentage_step 100 promotes straight after it); a
// failing one rolls back.
type AB struct {
	Headers  []HeaderMatch `json:"headers,omitempty"`  // all must match (AND)
	Duration int           `json:"duration,omitempty"` // seconds analysed at the stage; default wait_time
}

// HeaderMatch is one request header condition of the A/B stage.
type HeaderMatch struct {
	Name  string `json:"name"`
	Match string `json:"match,omitempty"` // one of HeaderMatches; default "exact"
	Value string `json:"value,omitempty"` // for exact, prefix, suffix and regex
	Start *int64 `json:"start,omitempty"` // for range: the lowest value matched
	End   *int64 `json:"end,omitempty"`   // for range: the first value above the range
}

// Header match kinds.
const (
	MatchExact   = "exact"
	MatchPrefix  = "prefix"
	MatchSuffix  = "suffix"
	MatchRegex   = "regex"
	MatchRange   = "range"
	MatchPresent = "present"
)

var reflectHeaderMatch = reflect.TypeOf(HeaderMatch{})

// HeaderMatches lists every match kind deploy.json accepts.
func HeaderMatches() []string {
	return []string{MatchExact, MatchPrefix, MatchSuffix, MatchRegex, MatchRange, MatchPresent}
}

// headerCapability is what one router's data plane can match on.
type headerCapability struct {
	Matches    []string // match kinds it can express
	MaxHeaders int      // header conditions in one rule
	MaxName    int      // characters of a header name
	MaxValue   int      // characters of a header value
	// MaxRegexProgram is the largest RE2 program a regex may compile to
	// (re2ProgramSize); zero where regex is not a match kind.
	MaxRegexProgram int
	Why             string // the data plane's limit, quoted in messages
}

// headerCapabilities are the routers' limits, judged at Validate before
// anything is rendered: VPC Lattice (Gateway API) matches headers
// exactly, at most five per listener rule, and the Lattice controller
// takes no RegularExpression header match; App Mesh takes every kind its
// HttpRouteHeader has, at most ten per route (the CRD's maxItems), with
// regexes as small as its Envoy compiles.
var headerCapabilities = map[string]headerCapability{
	contract.RouterGatewayAPI: {Matches: []string{MatchExact}, MaxHeaders: 5, MaxName: 40, MaxValue: 128,
		Why: "VPC Lattice matches headers exactly, at most five per rule"},
	contract.RouterAppMesh: {Matches: HeaderMatches(), MaxHeaders: 10, MaxName: 50, MaxValue: 255, MaxRegexProgram: MaxRegexProgramSize,
		Why: "App Mesh matches exact, prefix, suffix, regex, range and present, at most ten headers per route"},
}

// MaxABHeaders is how many header conditions one rule of router holds; the
// routers count the template rule's own header matches against it too.
func MaxABHeaders(router string) int { return headerCapabilities[router].MaxHeaders }

// HasAB reports whether the rollout begins with an A/B stage.
func (s Spec) HasAB() bool { return len(s.AB.Headers) > 0 }

// Kind is the match kind with its default applied.
func (h HeaderMatch) Kind() string {
	if h.Match == "" {
		return MatchExact
	}
	return h.Match
}

// String renders the condition for status and messages: "x-canary=always".
func (h HeaderMatch) String() string {
	switch h.Kind() {
	case MatchExact:
		return h.Name + "=" + h.Value
	case MatchPrefix:
		return h.Name + "=" + h.Value + "*"
	case MatchSuffix:
		return h.Name + "=*" + h.Value
	case MatchRegex:
		return h.Name + "~" + h.Value
	case MatchRange:
		return fmt.Sprintf("%s in [%d,%d)", h.Name, deref(h.Start), deref(h.End))
	default:
		return h.Name + " present"
	}
}

// Describe is the A/B stage as status shows it: "ab: x-canary=always → shop-2".
func (a AB) Describe(canary string) string {
	conds := make([]string, len(a.Headers))
	for i, h := range a.Headers {
		conds[i] = h.String()
	}
	return fmt.Sprintf("ab: %s → %s", strings.Join(conds, ", "), canary)
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// headerName is an HTTP header name (an RFC 9110 token), as the Gateway API
// CRD's HTTPHeaderName pattern has it.
var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_`|~]+$")

func (s *Spec) applyABDefaults() {
	if s.HasAB() && s.AB.Duration == 0 {
		s.AB.Duration = s.WaitTime
	}
}

func (s Spec) abProblems() []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: field, Value: value, Problem: problem, Allowed: allowed})
	}
	a := s.AB
	if !s.HasAB() {
		if a.Duration != 0 {
			add("ab.duration", strconv.Itoa(a.Duration), "has no A/B stage to time", `list the headers that select the canary in ab.headers, e.g. [{"name": "x-canary", "value": "always"}], or remove ab`)
		}
		return out
	}
	if s.Strategy == StrategyInPlace {
		add("ab", "", "is not allowed with strategy \"in-place\"",
			"an in-place rollout replaces the one workload in place and has no canary to send matching requests to (stateful services such as redis-server also speak TCP, which carries no HTTP headers); remove ab or use strategy \"canary\"")
		return out
	}
	if s.Strategy == StrategyBlueGreen {
		add("ab", "", "is not allowed with strategy \"blue-green\"",
			"a blue-green rollout already reaches the new version alone through its preview route before the switch; remove ab, or use strategy \"canary\" for an A/B stage ahead of weighted steps")
		return out
	}
	minWait := MinWaitTime
	if s.Router == contract.RouterGatewayAPI {
		minWait = MinWaitTimeGatewayAPI
	}
	if a.Duration < minWait || a.Duration > MaxWaitTime {
		add("ab.duration", strconv.Itoa(a.Duration), "is not allowed", fmt.Sprintf("use %d..%d seconds for router %q", minWait, MaxWaitTime, s.Router))
	}
	capability, known := headerCapabilities[s.Router]
	if !known {
		return out // the router itself is reported
	}
	if len(a.Headers) > capability.MaxHeaders {
		add("ab.headers", fmt.Sprintf("(%d headers)", len(a.Headers)), fmt.Sprintf("are more than router %q matches", s.Router),
			fmt.Sprintf("%s; keep at most %d", capability.Why, capability.MaxHeaders))
	}
	seen := map[string]int{}
	for i, h := range a.Headers {
		at := fmt.Sprintf("ab.headers[%d]", i)
		switch {
		case h.Name == "":
			add(at+".name", "", "is missing", `give the request header to match, e.g. "x-canary"`)
		case len(h.Name) > capability.MaxName || !headerName.MatchString(h.Name):
			add(at+".name", QuoteValue(h.Name), "is not a header name router "+strconv.Quote(s.Router)+" matches",
				fmt.Sprintf("use 1..%d letters, digits and !#$%%&'*+-.^_`|~", capability.MaxName))
		default:
			key := strings.ToLower(h.Name)
			if first, dup := seen[key]; dup {
				add(at+".name", strconv.Quote(h.Name), fmt.Sprintf("repeats ab.headers[%d] (header names ignore case)", first),
					"give each header once; all conditions must hold, so one header cannot match two values")
			} else {
				seen[key] = i
			}
		}
		kind := h.Kind()
		if !slices.Contains(HeaderMatches(), kind) {
			add(at+".match", QuoteValue(h.Match), "is not a known match", quoteAll(HeaderMatches()))
			continue
		}
		if !slices.Contains(capability.Matches, kind) {
			add(at+".match", strconv.Quote(kind), "is not supported by router "+strconv.Quote(s.Router),
				fmt.Sprintf("%s; use %s", capability.Why, strings.TrimPrefix(quoteAll(capability.Matches), "use ")))
			continue
		}
		out = append(out, h.valueProblems(at, capability)...)
	}
	return out
}

// valueProblems checks the fields a match kind reads, and refuses those it
// would silently ignore.
func (h HeaderMatch) valueProblems(at string, capability headerCapability) []FieldError {
	var out []FieldError
	add := func(field, value, problem, allowed string) {
		out = append(out, FieldError{Field: at + "." + field, Value: value, Problem: problem, Allowed: allowed})
	}
	kind := h.Kind()
	switch kind {
	case MatchRange, MatchPresent:
		if h.Value != "" {
			add("value", QuoteValue(h.Value), fmt.Sprintf("has no effect with match %q", kind), "remove value")
		}
	default:
		maxValue := capability.MaxValue
		problem, fix := headerValueProblem(kind, h.Value)
		switch {
		case h.Value == "":
			add("value", "", "is missing", fmt.Sprintf("give the header value to match (match %q), 1..%d characters", kind, maxValue))
		case len(h.Value) > maxValue:
			add("value", QuoteValue(h.Value), "is too long", fmt.Sprintf("use at most %d characters", maxValue))
		case problem != "":
			add("value", QuoteValue(h.Value), problem, fix)
		case kind == MatchRegex:
			if _, err := regexp.Compile(h.Value); err != nil {
				add("value", QuoteValue(h.Value), "is not a valid regular expression", "write RE2 syntax, as Envoy reads it: "+err.Error())
			} else if size, _ := re2ProgramSize(h.Value); size > capability.MaxRegexProgram {
				add("value", QuoteValue(h.Value), fmt.Sprintf("is too large a regular expression for Envoy: it compiles to about %d RE2 instructions, more than the %d allowed "+
					"(Envoy refuses more than %d and rejects the route configuration that carries it)", size, capability.MaxRegexProgram, EnvoyMaxRegexProgramSize),
					`shorten counted repetitions ([a-z0-9]{n} costs two instructions per repeat, "." eight), avoid Unicode classes such as \pL, or use match "prefix", "suffix" or "exact"`)
			}
		}
	}
	if kind != MatchRange {
		if h.Start != nil || h.End != nil {
			add("start", "", fmt.Sprintf("start and end have no effect with match %q", kind), `remove them, or use "match": "range"`)
		}
		return out
	}
	switch {
	case h.Start == nil || h.End == nil:
		add("start", "", "start and end are missing", `give both, e.g. "start": 1, "end": 50 matches values 1 to 49`)
	case *h.Start >= *h.End:
		add("end", strconv.FormatInt(*h.End, 10), "is not above start "+strconv.FormatInt(*h.Start, 10),
			"end is the first value above the range: use an end greater than start")
	}
	return out
}

// headerValueProblem reports why no request can match value with kind, or
// "": an RFC 9110 field value holds no control character but HTAB, and
// HTTP strips the spaces and tabs around it. A condition no request meets
// leaves the A/B stage without traffic, which no_data "pass" passes
// untested. Whitespace inside stays, so a prefix may end with a space and a
// suffix start with one.
func headerValueProblem(kind, value string) (problem, fix string) {
	for _, r := range value {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return fmt.Sprintf("contains the control character %s, which no HTTP header value carries", strconv.QuoteRune(r)),
				"remove it: header values hold visible characters, spaces and tabs only (RFC 9110)"
		}
	}
	if kind == MatchRegex || value == "" {
		return "", ""
	}
	blank := func(b byte) bool { return b == ' ' || b == '\t' }
	if (kind == MatchExact || kind == MatchPrefix) && blank(value[0]) {
		return "starts with whitespace, which HTTP strips from header values, so no request matches",
			"remove the leading spaces and tabs"
	}
	if (kind == MatchExact || kind == MatchSuffix) && blank(value[len(value)-1]) {
		return "ends with whitespace, which HTTP strips from header values, so no request matches",
			"remove the trailing spaces and tabs"
	}
	return "", ""
}

// abUnknownFields reports keys of ab.headers items that HeaderMatch does not
// have: the list decodes as a whole and would otherwise drop them silently.
func abUnknownFields(raw map[string]json.RawMessage) []FieldError {
	var ab map[string]json.RawMessage
	if json.Unmarshal(raw["ab"], &ab) != nil {
		return nil
	}
	var items []map[string]json.RawMessage
	if json.Unmarshal(ab["headers"], &items) != nil {
		return nil
	}
	fields := jsonFields(reflectHeaderMatch)
	known := make([]string, 0, len(fields))
	for name := range fields {
		known = append(known, name)
	}
	sort.Strings(known)
	var out []FieldError
	for i, item := range items {
		keys := make([]string, 0, len(item))
		for k := range item {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := fields[k]; ok {
				continue
			}
			fe := FieldError{Field: fmt.Sprintf("ab.headers[%d].%s", i, k), Problem: "is not a known field", Allowed: "known fields: " + strings.Join(known, ", ")}
			if guess := closest(k, known); guess != "" {
				fe.Allowed = fmt.Sprintf("did you mean %q?", guess)
			}
			out = append(out, fe)
		}
	}
	return out
}
