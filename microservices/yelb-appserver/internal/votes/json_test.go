package votes

import (
	"encoding/json"
	"testing"
)

func TestJSONMatchesOriginalBytes(t *testing.T) {
	got := JSON([]Count{{"outback", 3}, {"bucadibeppo", 0}, {"ihop", 12}, {"chipotle", 1}})
	want := `[{"name": "outback", "value": 3},{"name": "bucadibeppo", "value": 0},{"name": "ihop", "value": 12}, {"name": "chipotle", "value": 1}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var parsed []struct {
		Name  string `json:"name"`
		Value int64  `json:"value"`
	}
	if err := json.Unmarshal([]byte(got), &parsed); err != nil || len(parsed) != 4 || parsed[2].Value != 12 {
		t.Fatalf("not valid JSON of four entries: %v %+v", err, parsed)
	}
}

func TestKnown(t *testing.T) {
	for _, r := range []string{"ihop", "chipotle", "outback", "bucadibeppo"} {
		if !Known(r) {
			t.Errorf("%s not known", r)
		}
	}
	for _, r := range []string{"", "IHOP", "pizzahut", "getvotes", "ihop "} {
		if Known(r) {
			t.Errorf("%q known", r)
		}
	}
}

func TestUnavailable(t *testing.T) {
	cases := map[string]bool{
		"08006": true, "08001": true, "53300": true, "57P01": true, "57P02": true, "57P03": true,
		"57014": false, // query_canceled
		"42P01": false, // undefined_table: a fault, not an outage
		"23505": false,
		"":      false,
	}
	for code, want := range cases {
		if got := Unavailable(code); got != want {
			t.Errorf("Unavailable(%q) = %v, want %v", code, got, want)
		}
	}
}
