package spec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Parse decodes deploy.json strictly, applies the defaults and validates the
// result. Every problem is reported at once in a *ValidationError, so a build
// that writes a bad deploy.json is fixed in one round trip instead of one
// field at a time.
func Parse(data []byte) (Spec, error) {
	var s Spec
	if len(bytes.TrimSpace(data)) == 0 {
		return Spec{}, &ValidationError{Problems: []FieldError{{
			Field: "deploy.json", Problem: "is empty", Allowed: "give a JSON object with at least microservice_name, kubernetes_namespace, cluster_name, container_image and config_file",
		}}}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Spec{}, &ValidationError{Problems: []FieldError{{
			Field: "deploy.json", Problem: "is not a JSON object", Allowed: err.Error(),
		}}}
	}
	present := map[string]bool{}
	problems, typeErrors := decodeObject(raw, reflect.ValueOf(&s).Elem(), "", present)
	if typeErrors {
		// Mistyped fields stay unset; validating them would add "is missing"
		// noise on top of the real problem.
		return Spec{}, &ValidationError{Problems: problems}
	}
	problems = append(problems, explicitZeros(s, present)...)
	s.applyDefaults()
	problems = append(problems, s.problems()...)
	if len(problems) > 0 {
		return Spec{}, &ValidationError{Problems: problems}
	}
	return s, nil
}

// decodeObject decodes each member of raw into the struct field carrying the
// same JSON name, recursing into nested structs. Decoding member by member
// (instead of one DisallowUnknownFields pass) reports every unknown or
// mistyped field instead of stopping at the first.
func decodeObject(raw map[string]json.RawMessage, v reflect.Value, prefix string, present map[string]bool) (problems []FieldError, typeErrors bool) {
	fields := jsonFields(v.Type())
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	known := make([]string, 0, len(fields))
	for name := range fields {
		known = append(known, name)
	}
	sort.Strings(known)

	for _, key := range keys {
		path := prefix + key
		idx, ok := fields[key]
		if !ok {
			fe := FieldError{Field: path, Problem: "is not a known field"}
			if guess := closest(key, known); guess != "" {
				fe.Allowed = fmt.Sprintf("did you mean %q?", prefix+guess)
			} else {
				fe.Allowed = "known fields: " + strings.Join(known, ", ")
			}
			problems = append(problems, fe)
			continue
		}
		value := raw[key]
		if bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
			continue
		}
		present[path] = true
		field := v.Field(idx)
		if field.Kind() == reflect.Struct {
			var nested map[string]json.RawMessage
			if err := json.Unmarshal(value, &nested); err != nil {
				problems = append(problems, FieldError{Field: path, Value: short(value), Problem: "is not an object", Allowed: "give a JSON object"})
				typeErrors = true
				continue
			}
			nestedProblems, nestedTypeErrors := decodeObject(nested, field, path+".", present)
			problems = append(problems, nestedProblems...)
			typeErrors = typeErrors || nestedTypeErrors
			continue
		}
		if err := json.Unmarshal(value, field.Addr().Interface()); err != nil {
			problems = append(problems, FieldError{Field: path, Value: short(value), Problem: "has the wrong type", Allowed: "use " + describeType(field.Type())})
			typeErrors = true
		}
	}
	return problems, typeErrors
}

// jsonFields maps JSON member names to struct field indexes.
func jsonFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Int:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describeType(t.Elem()), "a ") + "s"
	default:
		return t.String()
	}
}

// short renders a raw JSON value for an error message, cut to a readable length.
func short(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// closest returns the known name nearest to name, or "" when nothing is
// close enough to be a plausible typo.
func closest(name string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		d := levenshtein(strings.ToLower(name), k)
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	// Allow roughly one edit in three characters: enough for typos and
	// camelCase/snake_case slips, not enough to suggest unrelated names.
	limit := max(2, len(name)/3)
	if strings.Contains(best, strings.ToLower(name)) || strings.Contains(strings.ToLower(name), best) {
		return best
	}
	if bestDist > limit {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// explicitZeros catches numbers written as 0 where 0 would otherwise be
// mistaken for "not set" and silently replaced by a default.
func explicitZeros(s Spec, present map[string]bool) []FieldError {
	var problems []FieldError
	check := func(path string, v int, allowed string) {
		if present[path] && v == 0 {
			problems = append(problems, FieldError{Field: path, Value: "0", Problem: "is not allowed", Allowed: allowed})
		}
	}
	check("percentage_step", s.PercentageStep, "use 1..100 (percent of traffic added at each step)")
	check("wait_time", s.WaitTime, fmt.Sprintf("use %d..%d seconds", MinWaitTime, MaxWaitTime))
	check("failure_threshold_time", s.FailureThresholdTime, fmt.Sprintf("use %d..%d seconds of look-back", MinLookBack, MaxLookBack))
	check("max_weight", s.MaxWeight, "use 1..100, or leave it out for no cap")
	check("progress_deadline", s.ProgressDeadline, fmt.Sprintf("use %d..%d seconds", MinProgressDeadline, MaxProgressDeadline))
	check("analysis.interval", s.Analysis.Interval, fmt.Sprintf("use %d seconds or more, at most wait_time", MinInterval))
	check("analysis.min_request_count", s.Analysis.MinRequestCount, "use 1 or more")
	check("analysis.consecutive_failure_limit", s.Analysis.ConsecutiveFailureLimit, "use 1..10")
	if present["steps"] && len(s.Steps) == 0 {
		problems = append(problems, FieldError{Field: "steps", Value: "[]", Problem: "is empty", Allowed: "list canary weights such as [5, 25, 50], or leave it out to use percentage_step"})
	}
	return problems
}

// Template decodes config_file: the microservice's kubernetes_template.yml.
func (s Spec) Template() ([]byte, error) {
	out, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s.ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("decode config_file of %s: not base64: %w", s.Microservice, err)
	}
	return out, nil
}
