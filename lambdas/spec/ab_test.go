package spec

import (
	"errors"
	"strings"
	"testing"
)

func header(fields ...any) map[string]any {
	h := map[string]any{}
	for i := 0; i+1 < len(fields); i += 2 {
		h[fields[i].(string)] = fields[i+1]
	}
	return h
}

func TestABDefaults(t *testing.T) {
	s, err := Parse(encode(t, original()))
	if err != nil {
		t.Fatal(err)
	}
	if s.HasAB() || s.AB.Duration != 0 {
		t.Errorf("without ab: HasAB %v, duration %d", s.HasAB(), s.AB.Duration)
	}
	s, err = Parse(encode(t, with(map[string]any{"wait_time": 120, "ab": map[string]any{"headers": []any{header("name", "x-canary", "value", "always")}}})))
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasAB() || s.AB.Duration != 120 || s.AB.Headers[0].Kind() != MatchExact {
		t.Errorf("ab defaults: HasAB %v, duration %d (want wait_time 120), match %q", s.HasAB(), s.AB.Duration, s.AB.Headers[0].Kind())
	}
	if got := s.AB.Describe("shop-2"); got != "ab: x-canary=always → shop-2" {
		t.Errorf("Describe %q", got)
	}
}

func TestABAcceptsEveryAppMeshMatch(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"router": "appmesh", "ab": map[string]any{"duration": 300, "headers": []any{
		header("name", "x-a", "value", "1"),
		header("name", "x-b", "match", "prefix", "value", "beta-"),
		header("name", "x-c", "match", "suffix", "value", "-eu"),
		header("name", "x-d", "match", "regex", "value", "^v[0-9]+$"),
		header("name", "x-e", "match", "range", "start", 1, "end", 50),
		header("name", "x-f", "match", "present"),
	}}})))
	if err != nil {
		t.Fatal(err)
	}
	want := "ab: x-a=1, x-b=beta-*, x-c=*-eu, x-d~^v[0-9]+$, x-e in [1,50), x-f present → shop-2"
	if got := s.AB.Describe("shop-2"); got != want {
		t.Errorf("Describe\n got %q\nwant %q", got, want)
	}
}

// TestManualPromotionHoldsAtTheABStage: with nothing between the A/B stage
// and 100, manual_promotion holds at the stage.
func TestManualPromotionHoldsAtTheABStage(t *testing.T) {
	ab := map[string]any{"headers": []any{header("name", "x-canary", "value", "always")}}
	for _, changes := range []map[string]any{
		{"percentage_step": 100, "manual_promotion": true, "ab": ab},
		{"steps": []int{100}, "manual_promotion": true, "ab": ab},
	} {
		if _, err := Parse(encode(t, with(changes))); err != nil {
			t.Errorf("%v: %v", changes, err)
		}
	}
	_, err := Parse(encode(t, with(map[string]any{"percentage_step": 100, "manual_promotion": true})))
	if err == nil || !strings.Contains(err.Error(), "manual_promotion: true has no canary weight below 100 to hold at") {
		t.Errorf("without ab: %v, want the refusal", err)
	}
}

// TestABAcceptsWhitespaceInside keeps what a request can carry: tabs and
// spaces inside a value, a prefix ending in a space, a suffix starting with
// one, and a regex within Envoy's program size.
func TestABAcceptsWhitespaceInside(t *testing.T) {
	s, err := Parse(encode(t, with(map[string]any{"ab": map[string]any{"headers": []any{
		header("name", "x-a", "value", "a b\tc"),
		header("name", "x-b", "match", "prefix", "value", "beta "),
		header("name", "x-c", "match", "suffix", "value", " eu"),
		header("name", "x-d", "match", "regex", "value", "^[a-f0-9]{32}$"),
	}}})))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.AB.Headers) != 4 || s.AB.Headers[1].Value != "beta " || s.AB.Headers[2].Value != " eu" {
		t.Errorf("headers %+v, want the values as written", s.AB.Headers)
	}
}

func TestABRejects(t *testing.T) {
	exact := func(name string) map[string]any { return header("name", name, "value", "v") }
	six := []any{exact("a"), exact("b"), exact("c"), exact("d"), exact("e"), exact("f")}
	lattice := func(ab map[string]any) map[string]any {
		return map[string]any{"router": "gatewayapi", "wait_time": 90, "ab": ab}
	}
	for _, tt := range []struct {
		name    string
		changes map[string]any
		want    string // the whole problem
	}{
		{"regex on lattice", lattice(map[string]any{"headers": []any{exact("x-canary"), header("name", "x-user", "match", "regex", "value", "^b")}}),
			`ab.headers[1].match: "regex" is not supported by router "gatewayapi": VPC Lattice matches headers exactly, at most five per rule; use "exact"`},
		{"present on lattice", lattice(map[string]any{"headers": []any{header("name", "x-canary", "match", "present")}}),
			`ab.headers[0].match: "present" is not supported by router "gatewayapi": VPC Lattice matches headers exactly, at most five per rule; use "exact"`},
		{"six headers on lattice", lattice(map[string]any{"headers": six}),
			`ab.headers: (6 headers) are more than router "gatewayapi" matches: VPC Lattice matches headers exactly, at most five per rule; keep at most 5`},
		{"lattice value too long", lattice(map[string]any{"headers": []any{header("name", "x-canary", "value", strings.Repeat("v", 129))}}),
			`ab.headers[0].value: "` + strings.Repeat("v", 77) + `..." (129 characters) is too long: use at most 128 characters`},
		{"lattice duration below settle time", lattice(map[string]any{"duration": 60, "headers": []any{exact("x-canary")}}),
			`ab.duration: 60 is not allowed: use 90..86400 seconds for router "gatewayapi"`},
		{"unknown match", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "glob", "value", "a*")}}},
			`ab.headers[0].match: "glob" is not a known match: use "exact", "prefix", "suffix", "regex", "range" or "present"`},
		{"missing name", map[string]any{"ab": map[string]any{"headers": []any{header("value", "always")}}},
			`ab.headers[0].name: is missing: give the request header to match, e.g. "x-canary"`},
		{"bad name", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x canary", "value", "a")}}},
			`ab.headers[0].name: "x canary" is not a header name router "appmesh" matches: use 1..50 letters, digits and !#$%&'*+-.^_` + "`" + `|~`},
		{"repeated name", map[string]any{"ab": map[string]any{"headers": []any{exact("X-Canary"), exact("x-canary")}}},
			`ab.headers[1].name: "x-canary" repeats ab.headers[0] (header names ignore case): give each header once; all conditions must hold, so one header cannot match two values`},
		{"missing value", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "prefix")}}},
			`ab.headers[0].value: is missing: give the header value to match (match "prefix"), 1..255 characters`},
		{"value with present", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "present", "value", "a")}}},
			`ab.headers[0].value: "a" has no effect with match "present": remove value`},
		{"bad regex", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "regex", "value", "(")}}},
			"ab.headers[0].value: \"(\" is not a valid regular expression: write RE2 syntax, as Envoy reads it: error parsing regexp: missing closing ): `(`"},
		{"range without end", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-n", "match", "range", "start", 1)}}},
			`ab.headers[0].start: start and end are missing: give both, e.g. "start": 1, "end": 50 matches values 1 to 49`},
		{"empty range", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-n", "match", "range", "start", 5, "end", 5)}}},
			`ab.headers[0].end: 5 is not above start 5: end is the first value above the range: use an end greater than start`},
		{"start without range", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-n", "value", "a", "start", 1)}}},
			`ab.headers[0].start: start and end have no effect with match "exact": remove them, or use "match": "range"`},
		{"unknown header field", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-n", "valeu", "a", "value", "a")}}},
			`ab.headers[0].valeu: is not a known field: did you mean "value"?`},
		{"empty headers", map[string]any{"ab": map[string]any{"headers": []any{}}},
			`ab.headers: [] is empty: list the headers that select the canary, e.g. [{"name": "x-canary", "value": "always"}], or remove ab`},
		{"duration without headers", map[string]any{"ab": map[string]any{"duration": 60}},
			`ab.duration: 60 has no A/B stage to time: list the headers that select the canary in ab.headers, e.g. [{"name": "x-canary", "value": "always"}], or remove ab`},
		{"explicit zero duration", map[string]any{"ab": map[string]any{"duration": 0, "headers": []any{exact("x-canary")}}},
			"ab.duration: 0 is not allowed: use 10..86400 seconds, or leave it out to analyse the A/B stage for wait_time"},
		{"CR LF in a value", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "value", "always\r\n")}}},
			`ab.headers[0].value: "always\r\n" contains the control character '\r', which no HTTP header value carries: remove it: header values hold visible characters, spaces and tabs only (RFC 9110)`},
		{"NUL in a value on lattice", lattice(map[string]any{"headers": []any{header("name", "x-canary", "value", "al\x00ways")}}),
			`ab.headers[0].value: "al\x00ways" contains the control character '\x00', which no HTTP header value carries: remove it: header values hold visible characters, spaces and tabs only (RFC 9110)`},
		{"DEL in a prefix", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "prefix", "value", "beta\x7f")}}},
			`ab.headers[0].value: "beta\x7f" contains the control character '\x7f', which no HTTP header value carries: remove it: header values hold visible characters, spaces and tabs only (RFC 9110)`},
		{"LF in a regex", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "regex", "value", "^a\nb$")}}},
			`ab.headers[0].value: "^a\nb$" contains the control character '\n', which no HTTP header value carries: remove it: header values hold visible characters, spaces and tabs only (RFC 9110)`},
		{"leading space", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "value", " always")}}},
			`ab.headers[0].value: " always" starts with whitespace, which HTTP strips from header values, so no request matches: remove the leading spaces and tabs`},
		{"trailing tab on lattice", lattice(map[string]any{"headers": []any{header("name", "x-canary", "value", "always\t")}}),
			`ab.headers[0].value: "always\t" ends with whitespace, which HTTP strips from header values, so no request matches: remove the trailing spaces and tabs`},
		{"prefix with leading space", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "prefix", "value", " beta")}}},
			`ab.headers[0].value: " beta" starts with whitespace, which HTTP strips from header values, so no request matches: remove the leading spaces and tabs`},
		{"suffix with trailing space", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "match", "suffix", "value", "-eu ")}}},
			`ab.headers[0].value: "-eu " ends with whitespace, which HTTP strips from header values, so no request matches: remove the trailing spaces and tabs`},
		{"only spaces", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary", "value", "   ")}}},
			`ab.headers[0].value: "   " starts with whitespace, which HTTP strips from header values, so no request matches: remove the leading spaces and tabs`},
		{"regex Envoy cannot compile", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-user", "match", "regex", "value", "^[a-z0-9]{200}$")}}},
			`ab.headers[0].value: "^[a-z0-9]{200}$" is too large a regular expression for Envoy: it compiles to about 404 RE2 instructions, more than the 90 allowed (Envoy refuses more than 100 and rejects the route configuration that carries it): ` +
				`shorten counted repetitions ([a-z0-9]{n} costs two instructions per repeat, "." eight), avoid Unicode classes such as \pL, or use match "prefix", "suffix" or "exact"`},
		{"regex with a Unicode class", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-user", "match", "regex", "value", `^\pL+$`)}}},
			`ab.headers[0].value: "^\\pL+$" is too large a regular expression for Envoy: it compiles to about 2703 RE2 instructions, more than the 90 allowed (Envoy refuses more than 100 and rejects the route configuration that carries it): ` +
				`shorten counted repetitions ([a-z0-9]{n} costs two instructions per repeat, "." eight), avoid Unicode classes such as \pL, or use match "prefix", "suffix" or "exact"`},
		{"CR in a name", map[string]any{"ab": map[string]any{"headers": []any{header("name", "x-canary\r", "value", "a")}}},
			`ab.headers[0].name: "x-canary\r" is not a header name router "appmesh" matches: use 1..50 letters, digits and !#$%&'*+-.^_` + "`" + `|~`},
		{"name with a leading space", map[string]any{"ab": map[string]any{"headers": []any{header("name", " x-canary", "value", "a")}}},
			`ab.headers[0].name: " x-canary" is not a header name router "appmesh" matches: use 1..50 letters, digits and !#$%&'*+-.^_` + "`" + `|~`},
		{"in place", map[string]any{"strategy": "in-place", "ab": map[string]any{"headers": []any{exact("x-canary")}}},
			`ab: is not allowed with strategy "in-place": an in-place rollout replaces the one workload in place and has no canary to send matching requests to (stateful services such as redis-server also speak TCP, which carries no HTTP headers); remove ab or use strategy "canary"`},
		{"blue-green", map[string]any{"strategy": "blue-green", "ab": map[string]any{"headers": []any{exact("x-canary")}}},
			`ab: is not allowed with strategy "blue-green": a blue-green rollout already reaches the new version alone through its preview route before the switch; remove ab, or use strategy "canary" for an A/B stage ahead of weighted steps`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(tt.changes)))
			var invalid *ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("error %v, want a *ValidationError", err)
			}
			if len(invalid.Problems) != 1 || invalid.Problems[0].Error() != tt.want {
				t.Errorf("problems %q\nwant [%s]", invalid.Problems, tt.want)
			}
		})
	}
}
