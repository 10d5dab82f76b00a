package spec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse decodes deploy.json strictly, applies the defaults and validates the
// result. Every problem is reported at once in a *ValidationError, so a build
// that writes a bad deploy.json is fixed in one round trip instead of one
// field at a time.
func Parse(data []byte) (Spec, error) {
	s, err := ParseInput(data)
	if err != nil {
		return Spec{}, err
	}
	return s, nil
}

// ParseInput is Parse for a document that others extend: the top-level keys
// in skip (the state machine's "rollout" and "error") are not deploy.json's
// and are ignored. With a *ValidationError it still returns what could be
// read, defaults applied, so that a caller can judge the template in the
// same round when the fields it needs are sound (ValidationError.Concerns).
func ParseInput(data []byte, skip ...string) (Spec, error) {
	if problem := documentProblem(data); problem != nil {
		return Spec{}, &ValidationError{Problems: []FieldError{*problem}}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Spec{}, &ValidationError{Problems: []FieldError{{
			Field: "deploy.json", Problem: "is not a JSON object", Allowed: err.Error(),
		}}}
	}
	for _, k := range skip {
		delete(raw, k)
	}
	var s Spec
	present := map[string]bool{}
	problems, mistyped := decodeObject(raw, reflect.ValueOf(&s).Elem(), "", present)
	problems = append(problems, duplicateKeys(data)...)
	problems = append(problems, abUnknownFields(raw)...)
	problems = append(problems, relevant(explicitZeros(s, present), present, mistyped)...)
	s.applyDefaults()
	problems = append(problems, relevant(s.problems(), present, mistyped)...)
	if len(data) > MaxDeployJSONBytes {
		problems = append(problems, FieldError{Field: "deploy.json", Value: FormatSize(len(data)), Problem: "is too large",
			Allowed: fmt.Sprintf("keep it at most %s: Step Functions carries at most 256 KiB between states, and the rollout's state holds deploy.json and the stable version's template", FormatSize(MaxDeployJSONBytes))})
	}
	if len(problems) > 0 {
		return s, &ValidationError{Problems: problems}
	}
	return s, nil
}

// derived names the fields whose defaults come from another field's value.
var derived = map[string]string{
	"analysis.interval":           "wait_time",
	"analysis.max_error_count":    "failure_threshold_value",
	"wait_time":                   "router",
	"analysis.no_data":            "strategy",
	"analysis.pod_check_interval": "analysis.interval",
	"ab.duration":                 "wait_time",
}

// dependsOn names, for each field, the fields its checks read: a problem
// about manual_promotion is not worth reporting while max_weight has the
// wrong type.
var dependsOn = map[string][]string{
	"wait_time":                          {"router"},
	"analysis.interval":                  {"wait_time", "router", "analysis"},
	"analysis.max_latency_p99_ms":        {"router", "analysis"},
	"analysis.max_error_count":           {"failure_threshold_value", "analysis"},
	"analysis.no_data":                   {"strategy", "analysis"},
	"manual_promotion":                   {"strategy", "percentage_step", "steps", "max_weight"},
	"canary_scale":                       {"strategy"},
	"scale_down_delay":                   {"strategy"},
	"canary_min_replicas":                {"canary_scale"},
	"analysis.min_success_rate":          {"analysis"},
	"analysis.min_request_count":         {"analysis"},
	"analysis.pod_check_interval":        {"analysis.interval", "wait_time", "router", "analysis"},
	"analysis.alarms":                    {"analysis"},
	"analysis.consecutive_failure_limit": {"analysis"},
	"ab":                                 {"strategy", "router"},
	"ab.headers":                         {"strategy", "router", "ab"},
	"ab.duration":                        {"wait_time", "router", "strategy", "ab"},
}

// relevant drops the problems a user could not act on: those about a field
// whose value was mistyped (it is unset, not missing), those whose check
// read a mistyped field, and those about a default derived from a field the
// user wrote badly, which is reported under its own name. A default derived
// from a valid field that still fails is reported under the field the user
// wrote.
func relevant(problems []FieldError, present, mistyped map[string]bool) []FieldError {
	bad := map[string]bool{}
	for _, p := range problems {
		bad[rootField(p.Field)] = true
	}
	var out []FieldError
	for _, p := range problems {
		field := rootField(p.Field)
		if mistyped[field] || mistyped[strings.SplitN(field, ".", 2)[0]] {
			continue
		}
		if slices.ContainsFunc(dependsOn[field], func(f string) bool { return mistyped[f] }) {
			continue
		}
		if source, ok := derived[field]; ok && !present[field] {
			if bad[source] || mistyped[source] {
				continue
			}
			p = FieldError{Field: source, Problem: fmt.Sprintf("gives %s the default %s, which %s", field, p.Value, p.Problem), Allowed: p.Allowed}
		}
		out = append(out, p)
	}
	return out
}

// rootField strips list indexes: "steps[2]" is field "steps".
func rootField(path string) string {
	if i := strings.IndexByte(path, '['); i >= 0 {
		return path[:i]
	}
	return path
}

// documentProblem explains, in one sentence, input that is not a JSON
// object at all: nothing, a byte order mark, a list, a scalar, or broken
// JSON with the line and column where it breaks.
func documentProblem(data []byte) *FieldError {
	fe := func(problem, allowed string) *FieldError {
		return &FieldError{Field: "deploy.json", Problem: problem, Allowed: allowed}
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return fe("starts with a UTF-8 byte order mark (BOM)", "save the file as UTF-8 without BOM; JSON parsers and Step Functions refuse it")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return fe("is empty", "give a JSON object with at least microservice_name, kubernetes_namespace, cluster_name, container_image and config_file")
	}
	if !utf8.Valid(data) {
		return fe("is not UTF-8 text", "write deploy.json as UTF-8 (jq does)")
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			line, col := position(data, int(syntax.Offset)-1) // Offset is just past the bad byte
			return fe(fmt.Sprintf("is not valid JSON: line %d, column %d: %s", line, col, syntax.Error()), "fix the JSON there; jq . deploy.json shows the same spot")
		}
		return fe("is not valid JSON", err.Error())
	}
	switch v.(type) {
	case map[string]any:
		return nil
	case []any:
		return fe("is a JSON list", "write one JSON object {...} per microservice, not a list of them")
	case nil:
		return fe("is null", "write one JSON object {...}")
	default:
		return fe(fmt.Sprintf("is a single JSON %s", jsonKind(v)), "write one JSON object {...} with the rollout's fields")
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return "number"
	}
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = offset - bytes.LastIndexByte(before, '\n')
	return line, col
}

// duplicateKeys finds keys written twice in one object, at any depth: JSON
// keeps only the last one, so the first is silently lost.
func duplicateKeys(data []byte) []FieldError {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		seen   map[string]int // key -> line
		path   string
		index  int
		key    string // the key whose value comes next
	}
	var (
		stack    []*frame
		problems []FieldError
	)
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			return joinPath(f.path, f.key)
		}
		return fmt.Sprintf("%s[%d]", f.path, f.index)
	}
	afterValue := func() {
		if len(stack) > 0 && !stack[len(stack)-1].object {
			stack[len(stack)-1].index++
		}
	}
	expectKey := func() bool {
		if len(stack) == 0 {
			return false
		}
		f := stack[len(stack)-1]
		return f.object && f.key == ""
	}
	for {
		offsetBefore := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return problems
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{object: t == '{', seen: map[string]int{}, path: child()})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = ""
				}
				afterValue()
			}
			continue
		case string:
			if expectKey() {
				f := stack[len(stack)-1]
				line, _ := position(data, int(offsetBefore)+1)
				if first, dup := f.seen[t]; dup {
					problems = append(problems, FieldError{Field: joinPath(f.path, t), Problem: fmt.Sprintf("is written twice (lines %d and %d)", first, line),
						Allowed: "JSON keeps only the last one; remove the other"})
				} else {
					f.seen[t] = line
				}
				f.key = t
				continue
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = ""
		}
		afterValue()
	}
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// decodeObject decodes each member of raw into the struct field carrying the
// same JSON name, recursing into nested structs. Decoding member by member
// (instead of one DisallowUnknownFields pass) reports every unknown or
// mistyped field instead of stopping at the first.
func decodeObject(raw map[string]json.RawMessage, v reflect.Value, prefix string, present map[string]bool) (problems []FieldError, mistyped map[string]bool) {
	mistyped = map[string]bool{}
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
				mistyped[path] = true
				continue
			}
			nestedProblems, nestedMistyped := decodeObject(nested, field, path+".", present)
			problems = append(problems, nestedProblems...)
			maps.Copy(mistyped, nestedMistyped)
			continue
		}
		if err := json.Unmarshal(value, field.Addr().Interface()); err != nil {
			// A list may fail half-way; the field stays unset, not partly set.
			field.SetZero()
			problems = append(problems, FieldError{Field: path, Value: short(value), Problem: "has the wrong type", Allowed: "use " + describeType(field.Type())})
			mistyped[path] = true
		}
	}
	return problems, mistyped
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
func short(raw json.RawMessage) string { return Cut(strings.TrimSpace(string(raw))) }

// MaxValueLength is how much of a value messages quote; longer values are
// cut, with their length shown.
const MaxValueLength = 80

// Cut shortens s to about MaxValueLength characters for a message, and says
// how long it was.
func Cut(s string) string {
	if utf8.RuneCountInString(s) <= MaxValueLength {
		return s
	}
	runes := []rune(s)
	return fmt.Sprintf("%s... (%d characters)", string(runes[:MaxValueLength-3]), len(runes))
}

// QuoteValue quotes a value for a message, cut as Cut does.
func QuoteValue(s string) string {
	if utf8.RuneCountInString(s) <= MaxValueLength {
		return strconv.Quote(s)
	}
	runes := []rune(s)
	return fmt.Sprintf("%s...\" (%d characters)", strings.TrimSuffix(strconv.Quote(string(runes[:MaxValueLength-3])), `"`), len(runes))
}

// FormatSize renders a byte count as KiB for a message.
func FormatSize(n int) string {
	return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/1024, n)
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
	check("analysis.pod_check_interval", s.Analysis.PodCheckInterval, fmt.Sprintf("use %d seconds or more, at most analysis.interval", MinPodCheckInterval))
	check("ab.duration", s.AB.Duration, fmt.Sprintf("use %d..%d seconds, or leave it out to analyse the A/B stage for wait_time", MinWaitTime, MaxWaitTime))
	if present["ab.headers"] && len(s.AB.Headers) == 0 {
		problems = append(problems, FieldError{Field: "ab.headers", Value: "[]", Problem: "is empty", Allowed: `list the headers that select the canary, e.g. [{"name": "x-canary", "value": "always"}], or remove ab`})
	}
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

// CheckDocument reports what keeps data from being read as one JSON object
// with each key once (empty input, a BOM, a list, broken JSON, duplicate
// keys), as a *ValidationError, or nil.
func CheckDocument(data []byte) error {
	if problem := documentProblem(data); problem != nil {
		return &ValidationError{Problems: []FieldError{*problem}}
	}
	if dups := duplicateKeys(data); len(dups) > 0 {
		return &ValidationError{Problems: dups}
	}
	return nil
}
