package spec

import "testing"

// TestRE2ProgramSizeTracksRE2 compares the estimate with RE2::ProgramSize
// as C++ RE2 (release 2022-06-01) reports it for each pattern: never more
// than 5 instructions short, and never accepting a pattern Envoy refuses.
func TestRE2ProgramSizeTracksRE2(t *testing.T) {
	for _, tt := range []struct {
		pattern  string
		re2      int  // RE2::ProgramSize
		accepted bool // within MaxRegexProgramSize
	}{
		{`^v[0-9]+$`, 6, true},
		{`(?i)canary`, 10, true},
		{`^(internal|beta|alpha|canary)-[0-9]+$`, 30, true},
		{`^Mozilla/.*(iPhone|Android).*$`, 35, true},
		{`^[a-f0-9]{32}$`, 66, true},
		{`^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$`, 69, true},
		{`^[a-z0-9]{40}$`, 82, true},
		{`^[a-z]{85}$`, 87, true},
		{`^[a-z0-9]{45}$`, 92, false}, // within Envoy's 100, refused by the margin
		{`x{95}`, 99, false},          // the unanchored start adds two instructions
		{`x{97}`, 101, false},
		{`^[a-z0-9]{200}$`, 402, false},       // two byte ranges per class, 200 times
		{`.{20}`, 164, false},                 // "." is eight byte ranges in UTF-8
		{`^(?i)[a-z0-9-]{1,40}$`, 361, false}, // case folding adds ſ and the Kelvin sign, both multi-byte
		{`^\pL+$`, 1196, false},
		{`^[\p{Greek}]+$`, 65, false}, // shared UTF-8 suffixes are not modelled: overestimated
	} {
		t.Run(tt.pattern, func(t *testing.T) {
			got, err := re2ProgramSize(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got < tt.re2-5 {
				t.Errorf("estimate %d, more than 5 below RE2's %d", got, tt.re2)
			}
			if accepted := got <= MaxRegexProgramSize; accepted != tt.accepted {
				t.Errorf("estimate %d accepted %v, want %v (RE2 %d, limit %d)", got, accepted, tt.accepted, tt.re2, MaxRegexProgramSize)
			}
			if got <= MaxRegexProgramSize && tt.re2 > EnvoyMaxRegexProgramSize {
				t.Errorf("estimate %d accepts a pattern of %d RE2 instructions, which Envoy refuses", got, tt.re2)
			}
		})
	}
	if _, err := re2ProgramSize("("); err == nil {
		t.Error("an invalid pattern has a size")
	}
}

func TestUTF8Ranges(t *testing.T) {
	for _, tt := range []struct {
		lo, hi rune
		want   int
	}{
		{'a', 'z', 1},
		{0xe0, 0xff, 2},       // C3 A0-BF
		{0x80, 0x10ffff, 6},   // RE2's own encoding
		{0x0b, 0x10ffff, 7},   // "." above the newline: ASCII, then 80-10FFFF
		{0x212a, 0x212a, 3},   // the Kelvin sign: E2 84 AA
		{0x100, 0x17f, 2},     // C4-C5 80-BF
		{0x7f0, 0x810, 2 + 3}, // across the two- and three-byte boundary
		{0x10000, 0x10000, 4}, // F0 90 80 80
		{'z', 'a', 0},         // empty
	} {
		if got := utf8Ranges(tt.lo, tt.hi); got != tt.want {
			t.Errorf("utf8Ranges(%U, %U) = %d, want %d", tt.lo, tt.hi, got, tt.want)
		}
	}
}
