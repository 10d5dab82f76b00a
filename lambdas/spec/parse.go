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

	"github.com/eks-canary/platform/lambdas/contract"
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
	doc := readDocument(data)
	if doc.problem != nil {
		return Spec{}, &ValidationError{Problems: []FieldError{*doc.problem}}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Spec{}, &ValidationError{Problems: []FieldError{{
			Field: "deploy.json", Problem: "is not a JSON object", Allowed: "write one JSON object {...} with the rollout's fields",
		}}}
	}
	for _, k := range skip {
		delete(raw, k)
	}
	var s Spec
	present := map[string]bool{}
	problems, mistyped := decodeObject(raw, reflect.ValueOf(&s).Elem(), "", present)
	problems = append(problems, doc.duplicates...)
	problems = append(problems, abUnknownFields(raw)...)
	problems = append(problems, relevant(explicitZeros(s, present), present, mistyped)...)
	s.applyDefaults()
	problems = append(problems, relevant(s.problems(), present, mistyped)...)
	if len(problems) > 0 {
		return s, &ValidationError{Problems: capProblems(problems)}
	}
	return s, nil
}

// MaxProblems is how many problems one refusal lists. More than that means
// the document is not a deploy.json at all, and a longer list would not fit
// in the 32 KiB Step Functions keeps of an error's cause.
const MaxProblems = 40

// capProblems keeps the first MaxProblems problems and counts the rest.
func capProblems(problems []FieldError) []FieldError {
	if len(problems) <= MaxProblems {
		return problems
	}
	more := len(problems) - MaxProblems
	return append(problems[:MaxProblems:MaxProblems], FieldError{Field: "deploy.json", Problem: fmt.Sprintf("has %d more problems", more),
		Allowed: "fix the ones above and validate again"})
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
	"analysis.max_latency_p99_ms":        {"router", "analysis", "analysis.provider"},
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

// MaxDepth is how deeply deploy.json may nest objects and lists: its
// deepest field, ab.headers[].start, is at level 4. The limit keeps the
// work done on hostile input proportional to its size.
const MaxDepth = 32

// document is what reading deploy.json as JSON found: a problem that stops
// it from being read as one object, and the keys written twice.
type document struct {
	problem    *FieldError
	duplicates []FieldError
}

// readDocument checks, cheapest first, what keeps data from being one
// JSON object: its size, a byte order mark, no content, text that is not
// UTF-8, nesting deeper than MaxDepth, broken JSON with the line and column
// where it breaks, a list or a scalar. Time and memory stay linear in the
// size of data, which is checked before anything else is read.
func readDocument(data []byte) document {
	fe := func(problem, allowed string) document {
		return document{problem: &FieldError{Field: "deploy.json", Problem: problem, Allowed: allowed}}
	}
	if len(data) > MaxDeployJSONBytes {
		return document{problem: &FieldError{Field: "deploy.json", Value: FormatSize(len(data)), Problem: "is too large",
			Allowed: fmt.Sprintf("keep it at most %s: Step Functions carries at most 256 KiB between states, and the rollout's state holds deploy.json and the stable version's template", FormatSize(MaxDeployJSONBytes))}}
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
	st := scan(data)
	if st.deep >= 0 {
		// Broken JSON before the deep spot is the first thing to fix.
		if problem := syntaxProblem(data, data[:st.deep]); problem != nil {
			return document{problem: problem}
		}
		return fe(fmt.Sprintf("nests more than %d levels deep, at %s (line %d)", MaxDepth, Cut(st.deepPath), st.deepLine),
			"deploy.json needs 4 levels (ab.headers[].start is the deepest field); remove the extra nesting")
	}
	if problem := syntaxProblem(data, data); problem != nil {
		return document{problem: problem}
	}
	switch trimmed[0] {
	case '{':
		return document{duplicates: st.duplicates}
	case '[':
		return fe("is a JSON list", "write one JSON object {...} per microservice, not a list of them")
	case 'n':
		return fe("is null", "write one JSON object {...}")
	case '"':
		return fe("is a single JSON string", "write one JSON object {...} with the rollout's fields")
	case 't', 'f':
		return fe("is a single JSON boolean", "write one JSON object {...} with the rollout's fields")
	default:
		return fe("is a single JSON number", "write one JSON object {...} with the rollout's fields")
	}
}

// syntaxProblem reports where prefix, the start of data, stops being JSON.
// A prefix shorter than data may end anywhere: only an error before its end
// counts.
func syntaxProblem(data, prefix []byte) *FieldError {
	err := json.Unmarshal(prefix, new(json.RawMessage))
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) || (len(prefix) < len(data) && syntax.Offset >= int64(len(prefix))) {
		return nil
	}
	line, col := position(data, int(syntax.Offset)-1) // Offset is just past the bad byte
	return &FieldError{Field: "deploy.json", Problem: fmt.Sprintf("is not valid JSON: line %d, column %d: %s", line, col, syntax.Error()),
		Allowed: "fix the JSON there; jq . deploy.json shows the same spot"}
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = offset - bytes.LastIndexByte(before, '\n')
	return line, col
}

// structure is what scan finds in one pass over deploy.json.
type structure struct {
	deep       int    // offset of the first object or list nested deeper than MaxDepth, or -1
	deepPath   string // its path
	deepLine   int
	duplicates []FieldError // keys written twice in one object, at any depth: JSON keeps only the last one
}

// scan walks data once, following only strings and brackets, so that it
// also runs on broken JSON and stops at the first level beyond MaxDepth.
// It holds the keys of the open objects and no more: paths are built only
// for a report, and at most MaxDepth objects are open.
func scan(data []byte) structure {
	type frame struct {
		object bool
		key    string         // object: the key last read
		index  int            // list: the index of the item being read
		seen   map[string]int // object: key -> line
	}
	var (
		stack     []frame
		out       = structure{deep: -1}
		line      = 1
		expectKey bool // the next string is a key of the innermost object
	)
	// path names the value the innermost frame is reading.
	path := func() string {
		p := ""
		for _, f := range stack {
			if f.object {
				p = joinPath(p, f.key)
			} else {
				p = fmt.Sprintf("%s[%d]", p, f.index)
			}
		}
		return p
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '"':
			end := stringEnd(data, i)
			if expectKey {
				f := &stack[len(stack)-1]
				f.key = decodeKey(data[i:end])
				if first, dup := f.seen[f.key]; dup {
					out.duplicates = append(out.duplicates, FieldError{Field: path(), Problem: fmt.Sprintf("is written twice (lines %d and %d)", first, line),
						Allowed: "JSON keeps only the last one; remove the other"})
				} else {
					if f.seen == nil {
						f.seen = map[string]int{}
					}
					f.seen[f.key] = line
				}
				expectKey = false
			}
			i = end - 1
		case '{', '[':
			if len(stack) == MaxDepth {
				out.deep, out.deepPath, out.deepLine = i, path(), line
				return out
			}
			stack = append(stack, frame{object: c == '{'})
			expectKey = c == '{'
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case ',':
			if len(stack) > 0 {
				f := &stack[len(stack)-1]
				expectKey = f.object
				if !f.object {
					f.index++
				}
			}
		}
	}
	return out
}

// stringEnd returns the offset just past the string that starts at
// data[start], or len(data) when it is not closed.
func stringEnd(data []byte, start int) int {
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(data)
}

// decodeKey reads a quoted key as encoding/json does, escapes included, so
// that "a" and "\u0061" are the same key.
func decodeKey(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 && len(quoted) >= 2 {
		return string(quoted[1 : len(quoted)-1])
	}
	var key string
	if json.Unmarshal(quoted, &key) != nil {
		return string(quoted)
	}
	return key
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
		if isNull(value) {
			continue
		}
		present[path] = true
		field := v.Field(idx)
		if field.Kind() == reflect.Struct {
			var nested map[string]json.RawMessage
			if err := json.Unmarshal(value, &nested); err != nil {
				problems = append(problems, FieldError{Field: path, Value: short(value), Problem: "is not an object", Allowed: "use " + describe(path, field.Type())})
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
			found := typeProblems(value, field.Type(), path, path)
			if len(found) == 0 { // a member matched only ignoring case, as encoding/json matches
				found = []FieldError{{Field: path, Value: short(value), Problem: "has the wrong type", Allowed: "use " + describe(path, field.Type())}}
			}
			problems = append(problems, found...)
			mistyped[path] = true
			continue
		}
		markPresent(value, field.Type(), path, present)
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
	lower := strings.ToLower(name)
	best, bestDist := "", -1
	var rows [2][]int
	for _, k := range known {
		// The lengths' difference is the fewest edits between them: a name
		// that cannot beat the best is not compared, which keeps a long
		// unknown key from costing its length times every known name.
		if bestDist >= 0 && abs(len(lower)-len(k)) >= bestDist {
			continue
		}
		if d := levenshtein(lower, k, &rows); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	// Allow roughly one edit in three characters: enough for typos and
	// camelCase/snake_case slips, not enough to suggest unrelated names.
	limit := max(2, len(name)/3)
	if strings.Contains(best, lower) || strings.Contains(lower, best) {
		return best
	}
	if bestDist > limit {
		return ""
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// levenshtein is the edit distance between a and b, computed in rows that
// are reused from call to call.
func levenshtein(a, b string, rows *[2][]int) int {
	for i := range rows {
		if cap(rows[i]) < len(b)+1 {
			rows[i] = make([]int, len(b)+1)
		}
		rows[i] = rows[i][:len(b)+1]
	}
	prev, cur := rows[0], rows[1]
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

// explicitZeros refuses a zero or empty value written where the default
// would replace it: "hold": 0 would silently become an hour, "router": ""
// App Mesh. Where 0 means something (bake_time, max_restarts) it is a
// value like any other and not checked here.
func explicitZeros(s Spec, present map[string]bool) []FieldError {
	var problems []FieldError
	check := func(path string, v int, allowed string) {
		if present[path] && v == 0 {
			problems = append(problems, FieldError{Field: path, Value: "0", Problem: "is not allowed", Allowed: allowed})
		}
	}
	empty := func(path, v, allowed string) {
		if present[path] && v == "" {
			problems = append(problems, FieldError{Field: path, Value: `""`, Problem: "is empty", Allowed: allowed})
		}
	}
	check("percentage_step", s.PercentageStep, "use 1..100 (percent of traffic added at each step)")
	check("wait_time", s.WaitTime, fmt.Sprintf("use %d..%d seconds", MinWaitTime, MaxWaitTime))
	check("failure_threshold_time", s.FailureThresholdTime, fmt.Sprintf("use %d..%d seconds of look-back", MinLookBack, MaxLookBack))
	check("max_weight", s.MaxWeight, "use 1..100, or leave it out for no cap")
	check("progress_deadline", s.ProgressDeadline, fmt.Sprintf("use %d..%d seconds", MinProgressDeadline, MaxProgressDeadline))
	check("canary_min_replicas", s.CanaryMinReplicas, fmt.Sprintf(`use 1..%d replicas with "canary_scale": "proportional", or leave it out for %d`, MaxCanaryMinReplicas, DefaultCanaryMinReplicas))
	check("analysis.interval", s.Analysis.Interval, fmt.Sprintf("use %d seconds or more, at most wait_time", MinInterval))
	check("analysis.min_request_count", s.Analysis.MinRequestCount, "use 1 or more")
	check("analysis.consecutive_failure_limit", s.Analysis.ConsecutiveFailureLimit, fmt.Sprintf("use 1..%d", MaxFailureLimit))
	check("analysis.pod_check_interval", s.Analysis.PodCheckInterval, fmt.Sprintf("use %d seconds or more, at most analysis.interval", MinPodCheckInterval))
	check("ab.duration", s.AB.Duration, fmt.Sprintf("use %d..%d seconds, or leave it out to analyse the A/B stage for wait_time", MinWaitTime, MaxWaitTime))
	empty("router", s.Router, quoteAll(contract.Routers())+", or leave it out for the environment's router")
	empty("strategy", s.Strategy, fmt.Sprintf(`use "canary", "blue-green" or "in-place", or leave it out for %q`, DefaultStrategy))
	empty("canary_scale", s.CanaryScale, fmt.Sprintf(`use "full" or "proportional", or leave it out for %q`, DefaultCanaryScale))
	empty("analysis.no_data", s.Analysis.NoData, `use "hold", "fail" or "pass", or leave it out for the strategy's default`)
	empty("analysis.provider", s.Analysis.Provider, quoteAll(contract.Providers())+", or leave it out for "+strconv.Quote(contract.Providers()[0]))
	for i, h := range s.Hooks {
		at := fmt.Sprintf("hooks[%d]", i)
		switch h.Kind {
		case HookHTTP:
			check(at+".timeout", h.Timeout, fmt.Sprintf("use 1..%d seconds per request, or leave it out for %d", MaxHTTPTimeout, DefaultHTTPTimeout))
		case HookJob:
			check(at+".timeout", h.Timeout, fmt.Sprintf("use 1..%d seconds the Job may take, or leave it out for %d", MaxJobTimeout, DefaultJobTimeout))
		}
		if h.Gate() {
			check(at+".hold", h.Hold, fmt.Sprintf("use 1..%d seconds the gate may keep failing, or leave it out for %d", MaxHold, DefaultHold))
		}
	}
	for i, h := range s.AB.Headers {
		empty(fmt.Sprintf("ab.headers[%d].match", i), h.Match, quoteAll(HeaderMatches())+fmt.Sprintf(", or leave it out for %q", MatchExact))
	}
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
// with each key once (too large, empty input, a BOM, nesting too deep, a
// list, broken JSON, duplicate keys), as a *ValidationError, or nil.
func CheckDocument(data []byte) error {
	doc := readDocument(data)
	if doc.problem != nil {
		return &ValidationError{Problems: []FieldError{*doc.problem}}
	}
	if len(doc.duplicates) > 0 {
		return &ValidationError{Problems: capProblems(doc.duplicates)}
	}
	return nil
}
