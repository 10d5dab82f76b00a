package spec

import (
	"errors"
	"strings"
	"testing"
)

func TestParseExplainsDocumentsThatAreNotOneObject(t *testing.T) {
	good := string(encode(t, original()))
	cases := []struct{ name, in, want string }{
		{"empty", "", "deploy.json: is empty"},
		{"BOM", "\xef\xbb\xbf" + good, "deploy.json: starts with a UTF-8 byte order mark (BOM)"},
		{"list", "[" + good + "]", "deploy.json: is a JSON list"},
		{"number", "42", "deploy.json: is a single JSON number"},
		{"broken", "{\n\"wait_time\": 60\n\"x\": 1}", "deploy.json: is not valid JSON: line 3, column 1"},
		{"duplicate", `{"wait_time": 60, "analysis": {"interval": 10, "interval": 20}, "wait_time": 90}`, "wait_time: is written twice (lines 1 and 1)"},
		{"duplicate nested", `{"analysis": {"interval": 10, "interval": 20}}`, "analysis.interval: is written twice"},
		{"duplicate in a list of objects is per object", `{"steps": [1, 2], "analysis": {}, "analysis": {}}`, "analysis: is written twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in))
			var verr *ValidationError
			if !errors.As(err, &verr) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, want %q", err, c.want)
			}
			if CheckDocument([]byte(c.in)) == nil {
				t.Error("CheckDocument accepted it")
			}
		})
	}
	if err := CheckDocument([]byte(good)); err != nil {
		t.Errorf("CheckDocument(good) = %v", err)
	}
	if err := CheckDocument([]byte(`{"a": [{"k": 1}, {"k": 2}]}`)); err != nil {
		t.Errorf("the same key in two objects of a list is no duplicate: %v", err)
	}
}

func TestParseNamesOnlyFieldsTheUserWrote(t *testing.T) {
	cases := []struct {
		name    string
		changes map[string]any
		want    []string
		absent  []string
	}{
		{"mistyped hides nothing else", map[string]any{"wait_time": "60", "percentage_step": 500},
			[]string{`wait_time: "60" has the wrong type`, "percentage_step: 500 is not allowed"}, nil},
		{"mistyped strategy", map[string]any{"strategy": 1, "manual_promotion": true, "percentage_step": 100},
			[]string{"strategy: 1 has the wrong type"}, []string{"manual_promotion"}},
		{"interval derived from a bad wait_time", map[string]any{"wait_time": 3}, []string{"wait_time: 3 is not allowed"}, []string{"analysis.interval"}},
		{"mistyped analysis", map[string]any{"analysis": 7, "router": "gatewayapi", "wait_time": 90}, []string{"analysis: 7 is not an object"}, []string{"analysis."}},
		{"long value", map[string]any{"router": strings.Repeat("r", 120)}, []string{`..." (120 characters) is not a known router`}, []string{strings.Repeat("r", 100)}},
		{"reserved namespace", map[string]any{"kubernetes_namespace": "kube-public"}, []string{`kubernetes_namespace: "kube-public" is refused`}, nil},
		{"unpinned image", map[string]any{"container_image": "nginx"}, []string{`container_image: "nginx" has no tag`}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(encode(t, with(c.changes)))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("lacks %q:\n%v", w, err)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("mentions %q:\n%v", a, err)
				}
			}
		})
	}
}

func TestCutShowsTheLength(t *testing.T) {
	if got := Cut("short"); got != "short" {
		t.Errorf("Cut(short) = %q", got)
	}
	got := QuoteValue(strings.Repeat("é", 100))
	if !strings.HasSuffix(got, `..." (100 characters)`) || strings.Count(got, "é") != MaxValueLength-3 {
		t.Errorf("QuoteValue = %q", got)
	}
}

func TestImagePinProblem(t *testing.T) {
	for ref, pinned := range map[string]bool{
		"nginx": false, "nginx:latest": false, "localhost:5000/app": false, "localhost:5000/app:latest": false,
		"nginx:1.27": true, "localhost:5000/app:v1": true, "app@sha256:" + strings.Repeat("a", 64): true, "app:latest@sha256:" + strings.Repeat("b", 64): true,
	} {
		if got := ImagePinProblem(ref) == ""; got != pinned {
			t.Errorf("ImagePinProblem(%q) pinned = %v, want %v", ref, got, pinned)
		}
	}
}
