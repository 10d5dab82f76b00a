package pageviews

import "testing"

func TestTransient(t *testing.T) {
	cases := map[string]bool{
		"LOADING Redis is loading the dataset in memory":                    true,
		"MASTERDOWN Link with MASTER is down":                               true,
		"BUSY Redis is busy running a script":                               true,
		"WRONGTYPE Operation against a key holding the wrong kind of value": false,
		"ERR value is not an integer or out of range":                       false,
		"LOADINGX": false,
	}
	for reply, want := range cases {
		if got := Transient(reply); got != want {
			t.Errorf("Transient(%q) = %v, want %v", reply, got, want)
		}
	}
}
