package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// refusal parses data and returns its problems, failing the test when data
// is accepted or refused with another error type.
func refusal(t *testing.T, data []byte, skip ...string) []FieldError {
	t.Helper()
	_, err := ParseInput(data, skip...)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("ParseInput = %v, want *ValidationError", err)
	}
	return verr.Problems
}

// padded is the original deploy.json padded with spaces to size bytes.
func padded(t *testing.T, size int) []byte {
	t.Helper()
	b := encode(t, original())
	return append(b[:len(b)-1], append(bytes.Repeat([]byte(" "), size-len(b)), '}')...)
}

// nestedIn writes an object nested depth levels deep as the value of key
// "rollout" of the original deploy.json, so that depth is what is judged.
func nestedIn(t *testing.T, depth int) []byte {
	t.Helper()
	b := encode(t, original())
	inner := nested(depth-2, 1) // depth-1 levels; the top-level object is the first
	return append(append(b[:len(b)-1], `,"rollout":`...), append(inner, '}')...)
}

// Size comes first and alone, nesting is bounded and named where it
// breaks, and brackets inside strings are text.
func TestParseBoundsSizeAndDepth(t *testing.T) {
	deepLists := "{\"steps\": " + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}"
	cases := []struct {
		name string
		data []byte
		want string // the only problem
	}{
		{"one byte over the limit", padded(t, MaxDeployJSONBytes+1),
			"deploy.json: 64.0 KiB (65537 bytes) is too large: keep it at most 64.0 KiB (65536 bytes)"},
		{"deep and large", nested(9990, 19), "deploy.json: 234.1 KiB (239762 bytes) is too large"},
		{"broken and large", append([]byte("{\"a\": ,"), bytes.Repeat([]byte(" "), MaxDeployJSONBytes)...), "deploy.json: 64.0 KiB (65543 bytes) is too large"},
		{"BOM and large", append([]byte("\xef\xbb\xbf"), padded(t, MaxDeployJSONBytes)...), "deploy.json: 64.0 KiB (65539 bytes) is too large"},
		{"one level too deep", nestedIn(t, MaxDepth+1),
			"deploy.json: nests more than 32 levels deep, at rollout.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k.k (line 1): deploy.json needs 4 levels"},
		{"lists too deep", []byte(deepLists), "deploy.json: nests more than 32 levels deep, at steps[0][0][0]"},
		{"deep on a later line", []byte("{\n\"analysis\": {\n\"x\": " + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}}"),
			"(line 3)"},
		{"broken before the deep spot", []byte("{\"a\": 1 \"b\": " + strings.Repeat("[", 40)),
			"deploy.json: is not valid JSON: line 1, column 9: invalid character '\"' after object key:value pair"},
		{"broken after the deep spot", []byte("{\"a\": " + strings.Repeat("[", 40) + "x"), "deploy.json: nests more than 32 levels deep"},
		{"deep list of objects", []byte("{\"hooks\": [" + strings.Repeat(`{"a": [`, 20) + "]}"), "deploy.json: nests more than 32 levels deep, at hooks[0].a[0].a[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			problems := refusal(t, c.data)
			if len(problems) != 1 || !strings.Contains(problems[0].Error(), c.want) {
				t.Fatalf("problems %v, want only %q", problems, c.want)
			}
			if err := CheckDocument(c.data); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("CheckDocument = %v, want %q", err, c.want)
			}
		})
	}
	accepted := []struct {
		name string
		data []byte
	}{
		{"exactly at the size limit", padded(t, MaxDeployJSONBytes)},
		{"exactly at the depth limit", nestedIn(t, MaxDepth)},
		{"brackets in strings", encode(t, with(map[string]any{"analysis": map[string]any{"alarms": []string{strings.Repeat("[{", 40), `"]\` + strings.Repeat("[", 40)}}}))},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseInput(c.data, "rollout"); err != nil {
				t.Errorf("refused: %v", err)
			}
			if err := CheckDocument(c.data); err != nil {
				t.Errorf("CheckDocument = %v", err)
			}
		})
	}
}

func TestParseFindsDuplicateKeysAndCapsTheList(t *testing.T) {
	cases := []struct {
		name  string
		data  string
		want  []string
		count int
	}{
		{"escaped key is the same key", `{"wait_time": 60, "wait\u005ftime": 90}`, []string{"wait_time: is written twice (lines 1 and 1)"}, 1},
		{"lines of each", "{\n\"analysis\": {\"interval\": 10,\n\"interval\": 20}}", []string{"analysis.interval: is written twice (lines 2 and 3)"}, 1},
		{"inside a list item", `{"hooks": [{"name": "a"}, {"name": "a", "name": "b"}]}`, []string{"hooks[1].name: is written twice"}, 1},
		{"too many to list", "{" + strings.Repeat(`"wait_time": 60, `, 100) + `"wait_time": 60}`,
			[]string{"wait_time: is written twice", fmt.Sprintf("deploy.json: has %d more problems: fix the ones above and validate again", 100-MaxProblems)}, MaxProblems + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckDocument([]byte(c.data))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("CheckDocument = %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("lacks %q:\n%v", w, err)
				}
			}
			if len(verr.Problems) != c.count {
				t.Errorf("%d problems, want %d", len(verr.Problems), c.count)
			}
		})
	}
}

// goTypeName matches what encoding/json would say about a Go type.
var goTypeName = regexp.MustCompile(`\b(u?int(8|16|32|64)?|float(32|64)|bool|struct|Go value|unmarshal)\b|map\[|\[\]|spec\.`)

func TestParseNamesTheMistypedItemInUserWords(t *testing.T) {
	gate := map[string]any{"name": "gate", "point": "confirm_traffic", "kind": "http", "url": "https://hooks.example.com/canary"}
	hook := func(changes map[string]any) map[string]any {
		h := map[string]any{}
		for k, v := range gate {
			h[k] = v
		}
		for k, v := range changes {
			h[k] = v
		}
		return h
	}
	headers := func(items ...any) map[string]any { return map[string]any{"headers": items} }
	cases := []struct {
		name    string
		changes map[string]any
		want    []string
	}{
		{"hook timeout as a string", map[string]any{"hooks": []any{hook(map[string]any{"timeout": "30"})}},
			[]string{`hooks[0].timeout: "30" has the wrong type: use a whole number of seconds`}},
		{"second hook", map[string]any{"hooks": []any{gate, hook(map[string]any{"name": "b", "retries": true})}},
			[]string{"hooks[1].retries: true has the wrong type: use a whole number of retries, e.g. 2"}},
		{"two fields of one hook", map[string]any{"hooks": []any{hook(map[string]any{"hold": "1h", "kind": 3})}},
			[]string{`hooks[0].hold: "1h" has the wrong type: use a whole number of seconds, e.g. 3600`, `hooks[0].kind: 3 has the wrong type: use a string: "lambda", "http" or "job"`}},
		{"hook metadata value", map[string]any{"hooks": []any{hook(map[string]any{"metadata": map[string]any{"team": 7}})}},
			[]string{`hooks[0].metadata.team: 7 has the wrong type: use a string, e.g. "shop"`}},
		{"hook that is not an object", map[string]any{"hooks": []any{"gate"}}, []string{`hooks[0]: "gate" has the wrong type: use a hook, e.g. {"name": "smoke"`}},
		{"hooks that are not a list", map[string]any{"hooks": gate}, []string{`characters) has the wrong type: use a list of hooks, e.g. [{"name": "smoke"`}},
		{"header range start", map[string]any{"ab": headers(map[string]any{"name": "x-a", "value": "b"}, map[string]any{"name": "x-b", "match": "range", "start": "5", "end": 9})},
			[]string{`ab.headers[1].start: "5" has the wrong type: use a whole number: the lowest header value matched, e.g. 1`}},
		{"header name", map[string]any{"ab": headers(map[string]any{"name": []int{1}})}, []string{`ab.headers[0].name: [1] has the wrong type: use a string: a request header name, e.g. "x-canary"`}},
		{"step", map[string]any{"steps": []any{10, "x", 50}}, []string{`steps[1]: "x" has the wrong type: use a whole-number weight 1..100, e.g. 25`}},
		{"alarm", map[string]any{"analysis": map[string]any{"alarms": []any{"a", 5}}}, []string{`analysis.alarms[1]: 5 has the wrong type: use a string: a CloudWatch alarm name`}},
		{"boolean", map[string]any{"manual_promotion": "yes"}, []string{`manual_promotion: "yes" has the wrong type: use true or false`}},
		{"pointer field", map[string]any{"strategy": "blue-green", "scale_down_delay": "600"}, []string{`scale_down_delay: "600" has the wrong type: use a whole number of seconds, e.g. 600`}},
		{"fraction for a whole number", map[string]any{"wait_time": json.RawMessage("60.5")}, []string{"wait_time: 60.5 has the wrong type: use a whole number of seconds, e.g. 60"}},
		{"whole number with an exponent", map[string]any{"wait_time": json.RawMessage("6e1")},
			[]string{"wait_time: 6e1 is not written as a whole number: write it with digits only, without a decimal point or exponent: 60"}},
		{"whole number out of range", map[string]any{"wait_time": json.RawMessage("99999999999999999999")},
			[]string{"wait_time: 99999999999999999999 is out of range: use a whole number of seconds, e.g. 60; whole numbers must lie within -9223372036854775808..9223372036854775807"}},
		{"exponent out of range", map[string]any{"failure_threshold_value": json.RawMessage("1e400")},
			[]string{"failure_threshold_value: 1e400 is out of range: use a number of 5xx responses, e.g. 5; numbers must lie within ±1.7976931348623157e+308"}},
		{"negative out of range", map[string]any{"analysis": map[string]any{"min_success_rate": json.RawMessage("-1e400")}},
			[]string{"analysis.min_success_rate: -1e400 is out of range: use a percentage, e.g. 99.5; numbers must lie within"}},
		{"whole number beyond a float", map[string]any{"hooks": []any{hook(map[string]any{"timeout": json.RawMessage("1e400")})}},
			[]string{"hooks[0].timeout: 1e400 is out of range: use a whole number of seconds; whole numbers must lie within"}},
		{"header end out of range", map[string]any{"ab": headers(map[string]any{"name": "x-a", "match": "range", "start": 1, "end": json.RawMessage("-9223372036854775809")})},
			[]string{"ab.headers[0].end: -9223372036854775809 is out of range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			problems := refusal(t, encode(t, with(c.changes)))
			all := (&ValidationError{Problems: problems}).Error()
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("lacks %q:\n%s", w, all)
				}
			}
			if len(problems) != len(c.want) {
				t.Errorf("%d problems, want %d:\n%s", len(problems), len(c.want), all)
			}
			for _, p := range problems {
				if m := goTypeName.FindString(p.Problem + " " + p.Allowed); m != "" {
					t.Errorf("%s names a Go type (%q)", p, m)
				}
			}
		})
	}
}

// Every field of deploy.json, nested ones and list items included, has a
// description in user words: a new field without one fails here.
func TestEveryFieldHasATypeDescription(t *testing.T) {
	seen := map[string]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if path != "" {
			seen[path] = true
			d, ok := typeDescriptions[path]
			switch {
			case !ok:
				t.Errorf("%s (%s) has no entry in typeDescriptions", path, typ)
			case goTypeName.MatchString(d):
				t.Errorf("%s: description %q names a Go type", path, d)
			}
		}
		switch typ.Kind() {
		case reflect.Struct:
			for name, i := range jsonFields(typ) {
				walk(typ.Field(i).Type, joinPath(path, name))
			}
		case reflect.Slice:
			walk(typ.Elem(), path+"[]")
		case reflect.Map:
			walk(typ.Elem(), path+".*")
		}
	}
	walk(reflect.TypeOf(Spec{}), "")
	for path := range typeDescriptions {
		if !seen[path] {
			t.Errorf("typeDescriptions has %s, which deploy.json does not have", path)
		}
	}
	if len(seen) < 50 {
		t.Errorf("walked %d fields; the walk missed nested types", len(seen))
	}
}

// A zero or empty value where a default would replace it is refused; one
// where it means something is kept.
func TestParseRefusesExplicitZerosDefaultsWouldReplace(t *testing.T) {
	gate := func(fields ...any) map[string]any {
		h := map[string]any{"name": "gate", "point": "confirm_traffic", "kind": "http", "url": "https://hooks.example.com/canary"}
		for i := 0; i+1 < len(fields); i += 2 {
			h[fields[i].(string)] = fields[i+1]
		}
		return h
	}
	job := map[string]any{"name": "tests", "point": "pre_traffic", "kind": "job", "job": "acceptance", "timeout": 0}
	cases := []struct {
		name    string
		changes map[string]any
		want    string
	}{
		{"hold", map[string]any{"hooks": []any{gate("hold", 0)}}, "hooks[0].hold: 0 is not allowed: use 1..86400 seconds the gate may keep failing, or leave it out for 3600"},
		{"hold of the second hook", map[string]any{"hooks": []any{gate(), gate("name", "b", "hold", 0)}}, "hooks[1].hold: 0 is not allowed"},
		{"http timeout", map[string]any{"hooks": []any{gate("timeout", 0)}}, "hooks[0].timeout: 0 is not allowed: use 1..60 seconds per request, or leave it out for 10"},
		{"job timeout", map[string]any{"hooks": []any{job}}, "hooks[0].timeout: 0 is not allowed: use 1..86400 seconds the Job may take, or leave it out for 600"},
		{"canary_min_replicas proportional", map[string]any{"canary_scale": "proportional", "canary_min_replicas": 0},
			`canary_min_replicas: 0 is not allowed: use 1..100 replicas with "canary_scale": "proportional", or leave it out for 1`},
		{"canary_min_replicas alone", map[string]any{"canary_min_replicas": 0}, "canary_min_replicas: 0 is not allowed"},
		{"router", map[string]any{"router": ""}, `router: "" is empty: use "gatewayapi" or "appmesh", or leave it out for the environment's router`},
		{"strategy", map[string]any{"strategy": ""}, `strategy: "" is empty: use "canary", "blue-green" or "in-place", or leave it out for "canary"`},
		{"canary_scale", map[string]any{"canary_scale": ""}, `canary_scale: "" is empty: use "full" or "proportional", or leave it out for "full"`},
		{"no_data", map[string]any{"analysis": map[string]any{"no_data": ""}}, `analysis.no_data: "" is empty: use "hold", "fail" or "pass"`},
		{"header match", map[string]any{"ab": map[string]any{"headers": []any{map[string]any{"name": "x-canary", "value": "always", "match": ""}}}},
			`ab.headers[0].match: "" is empty: use "exact", "prefix", "suffix", "regex", "range" or "present", or leave it out for "exact"`},
		{"consecutive_failure_limit", map[string]any{"analysis": map[string]any{"consecutive_failure_limit": 0}}, "analysis.consecutive_failure_limit: 0 is not allowed: use 1..10"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			problems := refusal(t, encode(t, with(c.changes)))
			if len(problems) != 1 || !strings.HasPrefix(problems[0].Error(), c.want) {
				t.Errorf("problems %v, want only %q", problems, c.want)
			}
		})
	}

	kept := []struct {
		name    string
		changes map[string]any
		check   func(Spec) bool
	}{
		{"bake_time", map[string]any{"bake_time": 0}, func(s Spec) bool { return s.BakeTime == 0 }},
		{"failure_threshold_value", map[string]any{"failure_threshold_value": 0}, func(s Spec) bool { return s.FailureThresholdValue == 0 }},
		{"max_restarts", map[string]any{"analysis": map[string]any{"max_restarts": 0}}, func(s Spec) bool { return *s.Analysis.MaxRestarts == 0 }},
		{"unready_grace", map[string]any{"analysis": map[string]any{"unready_grace": 0}}, func(s Spec) bool { return *s.Analysis.UnreadyGrace == 0 }},
		{"max_error_count", map[string]any{"failure_threshold_value": 3, "analysis": map[string]any{"max_error_count": 0}}, func(s Spec) bool { return *s.Analysis.MaxErrorCount == 0 }},
		{"scale_down_delay", map[string]any{"strategy": "blue-green", "percentage_step": nil, "scale_down_delay": 0}, func(s Spec) bool { return *s.ScaleDownDelay == 0 }},
		{"retries", map[string]any{"hooks": []any{gate("retries", 0)}}, func(s Spec) bool { return *s.Hooks[0].Retries == 0 }},
		{"hold left out", map[string]any{"hooks": []any{gate()}}, func(s Spec) bool { return s.Hooks[0].Hold == DefaultHold }},
		{"manual_promotion false", map[string]any{"manual_promotion": false}, func(s Spec) bool { return !s.ManualPromotion }},
	}
	for _, c := range kept {
		t.Run("keeps "+c.name, func(t *testing.T) {
			s, err := Parse(encode(t, with(c.changes)))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.check(s) {
				t.Errorf("value not kept: %+v", s)
			}
		})
	}
}

// The worst inputs of the benchmark are refused or read, each with the
// problem a user can act on.
func TestWorstInputsAreRefusedForTheRightReason(t *testing.T) {
	want := map[string]string{
		"deep-9990-240KB":        "is too large",
		"deep-9999-at-limit":     "nests more than 32 levels deep",
		"deep-accepted-at-limit": "is not a known field",
		"widest-object":          "more problems: fix the ones above",
		"longest-string":         "cluster_name:",
		"duplicate-keys":         "a: is written twice",
		"duplicate-keys-nested":  "analysis.interval: is written twice",
		"mistyped-list-items":    `steps[0]: "x" has the wrong type`,
	}
	for _, in := range worstInputs() {
		t.Run(in.name, func(t *testing.T) {
			if len(in.data) > MaxDeployJSONBytes && in.name != "deep-9990-240KB" {
				t.Fatalf("%d bytes, more than the limit", len(in.data))
			}
			all := (&ValidationError{Problems: refusal(t, in.data)}).Error()
			if !strings.Contains(all, want[in.name]) {
				t.Errorf("lacks %q:\n%.2000s", want[in.name], all)
			}
			if strings.Count(all, "\n") > MaxProblems+1 {
				t.Errorf("lists %d lines", strings.Count(all, "\n"))
			}
		})
	}
}
