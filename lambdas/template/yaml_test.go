package template

import (
	"errors"
	"strings"
	"testing"
)

// Each common YAML mistake is named on the line to fix, with the fix, not
// only with the parser's words.
func TestRenderExplainsYAMLMistakes(t *testing.T) {
	// head is lines 1-5 of every case; the mistake follows from line 6.
	const head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n"
	cases := []struct {
		name string
		tmpl string
		want string // the whole problem: line, parser message and fix
	}{
		{"tab indentation", head + "\tx: \"1\"\n",
			"line 6: invalid YAML: found character that cannot start any token: the line is indented with a tab: YAML indentation must use spaces"},
		{"tab after spaces", head + "  x: \"1\"\n  \ty: \"2\"\n",
			"line 7: invalid YAML: found character that cannot start any token: the line is indented with a tab"},
		{"tab before a list item", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  finalizers:\n\t- x\n",
			"line 6: invalid YAML: found character that cannot start any token: the line is indented with a tab"},
		{"no space after a colon", head + "  x:1\n  y: \"2\"\n",
			`line 6: invalid YAML: mapping values are not allowed in this context: "x:1" has no space after the colon: write "x: 1"`},
		{"no space after a colon before a mapping", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name:a\n  labels: {}\n",
			`line 4: invalid YAML: mapping values are not allowed in this context: "name:a" has no space after the colon: write "name: a"`},
		{"unquoted colon in a value", head + "  x: a: b\n",
			`line 6: invalid YAML: mapping values are not allowed in this context: a value that contains ': ' must be quoted, e.g. key: "a: b"`},
		{"key without colon", head + "  x \"1\"\n  y: \"2\"\n",
			"line 6: invalid YAML: mapping values are not allowed in this context: the line has no ':' after its key: write key: value"},
		{"unterminated double quote", head + "  x: \"abc\n  y: \"2\"\n",
			"line 6: invalid YAML: did not find expected key: the quoted value is not closed"},
		{"unterminated single quote", head + "  x: 'abc\n",
			"line 6: invalid YAML: found unexpected end of stream: the quoted value is not closed"},
		{"text after a quote", head + "  x: \"a\" b\n",
			"line 6: invalid YAML: did not find expected key: text follows the closing quote of a value: quote the whole value"},
		{"key indented less", head + "  x: \"1\"\n y: \"2\"\n",
			"line 7: invalid YAML: did not find expected key: the line is indented differently from the lines beside it"},
		{"list item indented less", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  finalizers:\n    - a\n    - b\n   - c\n",
			"line 8: invalid YAML: did not find expected key: the line is indented differently from the lines beside it"},
		{"key of a list item indented less", head + "  x:\n    - b: 1\n      c: 2\n     d: 3\n",
			"line 9: invalid YAML: did not find expected '-' indicator: the items of one list must start at the same column"},
		{"list item after a key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  finalizers: - a\n",
			"line 5: invalid YAML: block sequence entries are not allowed in this context: a list item cannot follow a key on the same line"},
		{"unclosed flow list", head + "  x: [1, 2\n  y: \"3\"\n",
			"line 6: invalid YAML: did not find expected ',' or ']': a [ list is not closed: end it with ]"},
		{"unclosed flow mapping", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n",
			"line 3: invalid YAML: did not find expected ',' or '}': a { mapping is not closed: end it with }"},
		{"value starting with @", head + "  x: @team\n",
			"line 6: invalid YAML: found character that cannot start any token: a plain value cannot start with @, ` or %: quote it"},
		{"bad escape", head + "  x: \"C:\\dir\"\n",
			`line 6: invalid YAML: found unknown escape character: in a "double-quoted" value a backslash starts an escape: write \\ for a backslash`},
		{"alias without anchor", head + "  x: *\n",
			"line 6: invalid YAML: did not find expected alphabetic or numeric character: & and * start YAML anchors and aliases: quote a value"},
		{"duplicate key", head + "  x: \"1\"\n  x: \"2\"\n",
			`line 7: invalid YAML: key "x" already set in map: a key may appear once in a mapping, and YAML would keep only one: remove the other`},
		{"document is a list", "- apiVersion: v1\n  kind: ConfigMap\n",
			"line 1: a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata), not a list: write each object as its own document, separated by lines of ---"},
		{"key and value without colon", "apiVersion v1\n",
			"line 1: a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata), not a string: write apiVersion, kind and metadata as keys, each followed by ': '"},
		{"nesting beyond the parser's depth", head + "  x: " + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "\n",
			"line 6: invalid YAML: exceeded max depth of 10000: lists and mappings nest too deeply"},
		{"mistake in the second document", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" + head + "\tx: \"1\"\n",
			"line 10: invalid YAML: found character that cannot start any token: the line is indented with a tab"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render([]byte(c.tmpl), values("yelb-ui", nil))
			var terr *Error
			if !errors.As(err, &terr) {
				t.Fatalf("Render error = %v, want *Error", err)
			}
			if len(terr.Problems) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(terr.Problems), err)
			}
			if got := terr.Problems[0].String(); !strings.HasPrefix(got, c.want) {
				t.Errorf("problem\n  %s\nwant it to start with\n  %s", got, c.want)
			}
		})
	}
}
