package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// typeDescriptions says, in the words of deploy.json's reference, what
// each field holds: a wrong type is answered with "use <description>",
// never with a Go type. Keys are JSON paths with "[]" for any list item
// and ".*" for any value of a string map; TestEveryFieldHasATypeDescription
// walks the types so that a new field cannot go without one.
var typeDescriptions = map[string]string{
	"cluster_name":            `a string: the EKS cluster's name, e.g. "canary-platform"`,
	"kubernetes_namespace":    `a string: the application namespace, e.g. "yelb"`,
	"microservice_name":       `a string: the microservice's name, e.g. "yelb-ui"`,
	"percentage_step":         "a whole number of percent, e.g. 25",
	"wait_time":               "a whole number of seconds, e.g. 60",
	"failure_threshold_value": "a number of 5xx responses, e.g. 5",
	"failure_threshold_time":  "a whole number of seconds, e.g. 300",
	"container_image":         `a string: the image reference, e.g. "registry.local/shop:2"`,
	"config_file":             "a string: kubernetes_template.yml encoded as base64",
	"router":                  `a string: "appmesh" or "gatewayapi"`,
	"strategy":                `a string: "canary", "blue-green" or "in-place"`,
	"steps":                   "a list of whole-number weights, e.g. [5, 25, 50]",
	"steps[]":                 "a whole-number weight 1..100, e.g. 25",
	"max_weight":              "a whole number of percent, e.g. 50",
	"analysis":                `an object of analysis settings, e.g. {"interval": 30}`,
	"bake_time":               "a whole number of seconds, e.g. 300",
	"progress_deadline":       "a whole number of seconds, e.g. 600",
	"manual_promotion":        "true or false",
	"canary_scale":            `a string: "full" or "proportional"`,
	"canary_min_replicas":     "a whole number of replicas, e.g. 2",
	"scale_down_delay":        "a whole number of seconds, e.g. 600",

	"analysis.interval":                  "a whole number of seconds, e.g. 30",
	"analysis.min_success_rate":          "a percentage, e.g. 99.5",
	"analysis.max_latency_p99_ms":        "a number of milliseconds, e.g. 500",
	"analysis.max_error_count":           "a number of 5xx responses, e.g. 5",
	"analysis.min_request_count":         "a whole number of requests, e.g. 20",
	"analysis.no_data":                   `a string: "hold", "fail" or "pass"`,
	"analysis.provider":                  `a string: "cloudwatch" or "prometheus"`,
	"analysis.consecutive_failure_limit": "a whole number of analyses, e.g. 2",
	"analysis.baseline_comparison":       "true or false",
	"analysis.max_restarts":              "a whole number of restarts, e.g. 0",
	"analysis.unready_grace":             "a whole number of seconds, e.g. 30",
	"analysis.alarms":                    `a list of CloudWatch alarm names, e.g. ["shop-5xx"]`,
	"analysis.alarms[]":                  `a string: a CloudWatch alarm name, e.g. "shop-5xx"`,
	"analysis.pod_check_interval":        "a whole number of seconds, e.g. 5",
	"analysis.queries":                   `a list of named PromQL queries with bounds, e.g. [{"name": "queue-errors", "query": "sum(rate(queue_errors_total{version=\"{{version}}\"}[{{interval}}]))", "max": 1}]`,
	"analysis.queries[]":                 `a named PromQL query with bounds, e.g. {"name": "queue-errors", "query": "...", "max": 1}`,
	"analysis.queries[].name":            `a string: the query's name, e.g. "queue-errors"`,
	"analysis.queries[].query":           `a string: PromQL that yields one number, e.g. "sum(rate(queue_errors_total{version=\"{{version}}\"}[{{interval}}]))"`,
	"analysis.queries[].min":             "a number: the lowest value the canary may show, e.g. 0.5",
	"analysis.queries[].max":             "a number: the highest value the canary may show, e.g. 1",

	"ab":                 `an object with headers and duration, e.g. {"headers": [{"name": "x-canary", "value": "always"}]}`,
	"ab.headers":         `a list of header conditions, e.g. [{"name": "x-canary", "value": "always"}]`,
	"ab.headers[]":       `a header condition, e.g. {"name": "x-canary", "value": "always"}`,
	"ab.headers[].name":  `a string: a request header name, e.g. "x-canary"`,
	"ab.headers[].match": `a string: "exact", "prefix", "suffix", "regex", "range" or "present"`,
	"ab.headers[].value": `a string: the header value to match, e.g. "always"`,
	"ab.headers[].start": "a whole number: the lowest header value matched, e.g. 1",
	"ab.headers[].end":   "a whole number: the first header value above the range, e.g. 50",
	"ab.duration":        "a whole number of seconds, e.g. 300",
	"hooks":              `a list of hooks, e.g. [{"name": "smoke", "point": "pre_traffic", "kind": "http", "url": "http://loadtester.test/smoke"}]`,
	"hooks[]":            `a hook, e.g. {"name": "smoke", "point": "pre_traffic", "kind": "http", "url": "http://loadtester.test/smoke"}`,
	"hooks[].name":       `a string: the hook's name, e.g. "smoke"`,
	"hooks[].point":      `a string: a hook point, e.g. "pre_traffic"`,
	"hooks[].kind":       `a string: "lambda", "http" or "job"`,
	"hooks[].url":        `a string: the webhook's URL, e.g. "http://loadtester.test/smoke"`,
	"hooks[].function":   `a string: the Lambda function's ARN`,
	"hooks[].job":        `a string: the metadata.name of a Job in the template`,
	"hooks[].timeout":    "a whole number of seconds",
	"hooks[].retries":    "a whole number of retries, e.g. 2",
	"hooks[].hold":       "a whole number of seconds, e.g. 3600",
	"hooks[].metadata":   `an object of strings, e.g. {"team": "shop"}`,
	"hooks[].metadata.*": `a string, e.g. "shop"`,
}

// describe is typeDescriptions[typePath], or the kind of t in plain words
// for a field added without a description.
func describe(typePath string, t reflect.Type) string {
	if d, ok := typeDescriptions[typePath]; ok {
		return d
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describe(typePath, t.Elem())
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	default:
		return "an object"
	}
}

// typeProblems finds where raw does not fit t, member by member and item
// by item, so that a message names the innermost field and its type in
// user words: "hooks[0].timeout", not the whole list. path is the field's
// JSON path, typePath the same with "[]" for list indexes.
func typeProblems(raw json.RawMessage, t reflect.Type, path, typePath string) []FieldError {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	wrong := func() []FieldError {
		return []FieldError{{Field: path, Value: short(raw), Problem: "has the wrong type", Allowed: "use " + describe(typePath, t)}}
	}
	var out []FieldError
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return wrong()
		}
		fields := jsonFields(t)
		for _, key := range slices.Sorted(maps.Keys(members)) {
			if i, ok := fields[key]; ok {
				out = append(out, typeProblems(members[key], t.Field(i).Type, path+"."+key, typePath+"."+key)...)
			}
		}
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return wrong()
		}
		for _, key := range slices.Sorted(maps.Keys(members)) {
			out = append(out, typeProblems(members[key], t.Elem(), path+"."+key, typePath+".*")...)
		}
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return wrong()
		}
		for i, item := range items {
			out = append(out, typeProblems(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), typePath+"[]")...)
		}
	default:
		if json.Unmarshal(raw, reflect.New(t).Interface()) == nil {
			return nil
		}
		if p, ok := numberProblem(raw, t, path, typePath); ok {
			return []FieldError{p}
		}
		return wrong()
	}
	return out
}

// numberProblem explains a JSON number that does not fit a number field:
// beyond what the field can hold, a fraction where a whole number goes,
// or a whole number written with an exponent or a decimal point.
func numberProblem(raw json.RawMessage, t reflect.Type, path, typePath string) (FieldError, bool) {
	text := string(bytes.TrimSpace(raw))
	whole := t.Kind() == reflect.Int || t.Kind() == reflect.Int64
	if text == "" || !strings.ContainsRune("-0123456789", rune(text[0])) || (!whole && t.Kind() != reflect.Float64) {
		return FieldError{}, false
	}
	fe := FieldError{Field: path, Value: Cut(text), Problem: "is out of range"}
	f, err := strconv.ParseFloat(text, 64)
	digits := !strings.ContainsAny(text, ".eE")
	switch {
	case !whole:
		fe.Allowed = fmt.Sprintf("use %s; numbers must lie within ±%g", describe(typePath, t), math.MaxFloat64)
	case err == nil && f != math.Trunc(f):
		fe.Problem, fe.Allowed = "has the wrong type", "use "+describe(typePath, t)
	case digits || err != nil || f < math.MinInt64 || f >= math.MaxInt64:
		fe.Allowed = fmt.Sprintf("use %s; whole numbers must lie within %d..%d", describe(typePath, t), int64(math.MinInt64), int64(math.MaxInt64))
	default:
		fe.Problem = "is not written as a whole number"
		fe.Allowed = "write it with digits only, without a decimal point or exponent: " + strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fe, true
}

// markPresent records, below a value decoded whole (a list of hooks), each
// member deploy.json wrote, as decodeObject does for its own members:
// explicitZeros tells "hold": 0 from a hold left out.
func markPresent(raw json.RawMessage, t reflect.Type, path string, present map[string]bool) {
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return
		}
		fields := jsonFields(t)
		for key, value := range members {
			i, ok := fields[key]
			if !ok || isNull(value) {
				continue
			}
			present[path+"."+key] = true
			markPresent(value, t.Field(i).Type, path+"."+key, present)
		}
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return
		}
		for i, item := range items {
			markPresent(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), present)
		}
	}
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }
