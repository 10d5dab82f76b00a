package spec

import (
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// Envoy compiles a header regex with Google's C++ RE2 and refuses one
// whose program (RE2::ProgramSize) has more instructions than its runtime
// value re2.max_program_size.error_level, 100 by default. App Mesh sets no
// Envoy runtime values, so 100 is the limit of every App Mesh route. A
// refused regex is not an error the App Mesh controller reports: Envoy
// rejects the route configuration it arrives in.
const EnvoyMaxRegexProgramSize = 100

// MaxRegexProgramSize is the estimate re2ProgramSize may reach. Measured
// against C++ RE2 (release 2022-06-01, through RE2::ProgramSize) on
// 20,000 generated patterns, the estimate fell at most 5 instructions
// short near the limit, where nullable loops and repeated empty-width
// assertions lay out differently; it is otherwise equal or above. The
// margin of 10 is twice that, and leaves room for RE2 releases between the
// one measured and Envoy's. It refuses some patterns Envoy would take
// (RE2 size 91..100), never one Envoy refuses in those measurements.
const MaxRegexProgramSize = EnvoyMaxRegexProgramSize - 10

// re2ProgramSize estimates RE2::ProgramSize for pattern. Go's
// regexp/syntax, compiled after Simplify as RE2 compiles (counted
// repetitions expanded), yields nearly the same instructions, except that:
//
//   - RE2 matches bytes, not runes: a character class costs one
//     instruction per byte range of its UTF-8 encoding (an ASCII range is
//     one; A-Z is free when a-z is in the class, matched case-folded;
//     "." is about eight), where Go has one instruction per class;
//   - RE2 also compiles an unanchored start, a .*? loop ahead of a second
//     copy of the first step, unless the pattern starts with ^.
//
// Shared UTF-8 suffixes are not modelled, so large Unicode classes are
// overestimated; RE2's removal of a literal prefix after ^ is not either.
// Both err on the side of refusing.
func re2ProgramSize(pattern string) (int, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, inst := range prog.Inst {
		n += re2Instructions(inst)
	}
	if prog.StartCond()&syntax.EmptyBeginText == 0 {
		n += 1 + firstStep(prog)
	}
	return n, nil
}

// re2Instructions is what one Go instruction costs in RE2.
func re2Instructions(inst syntax.Inst) int {
	switch inst.Op {
	case syntax.InstRune1, syntax.InstRune:
		if len(inst.Rune) == 1 {
			return classInstructions(foldOrbit(inst.Rune[0], syntax.Flags(inst.Arg)&syntax.FoldCase != 0))
		}
		return max(classInstructions(inst.Rune), 1)
	case syntax.InstRuneAny:
		return classInstructions([]rune{0, utf8.MaxRune})
	case syntax.InstRuneAnyNotNL:
		return classInstructions([]rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune})
	}
	return 1
}

// foldOrbit is the class a literal rune matches: itself, and with case
// folding every rune it folds to (k is also K and the Kelvin sign).
func foldOrbit(r rune, fold bool) []rune {
	class := []rune{r, r}
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			class = append(class, f, f)
		}
	}
	return class
}

// classInstructions counts the byte ranges RE2 compiles a class of rune
// ranges (lo, hi pairs) into.
func classInstructions(class []rune) int {
	in := func(c rune) bool {
		for i := 0; i+1 < len(class); i += 2 {
			if class[i] <= c && c <= class[i+1] {
				return true
			}
		}
		return false
	}
	foldsASCII := true
	for c := 'A'; c <= 'Z'; c++ {
		if in(c) != in(unicode.ToLower(c)) {
			foldsASCII = false
			break
		}
	}
	n := 0
	for i := 0; i+1 < len(class); i += 2 {
		if foldsASCII && 'A' <= class[i] && class[i+1] <= 'Z' {
			continue // matched by the case-folded a-z range
		}
		n += utf8Ranges(class[i], class[i+1])
	}
	return n
}

// utf8Ranges counts the byte ranges of lo..hi in UTF-8, split as RE2's
// AddRuneRangeUTF8 splits it: by encoded length, then into runs that
// agree on their leading bytes, one instruction per byte of each run.
func utf8Ranges(lo, hi rune) int {
	switch {
	case lo > hi:
		return 0
	case lo < utf8.RuneSelf && hi >= utf8.RuneSelf:
		return utf8Ranges(lo, utf8.RuneSelf-1) + utf8Ranges(utf8.RuneSelf, hi)
	case lo == utf8.RuneSelf && hi == utf8.MaxRune:
		return 6 // RE2's own encoding of 80-10FFFF: three lead byte ranges, three continuation bytes
	case hi < utf8.RuneSelf:
		return 1
	}
	for _, top := range []rune{0x7ff, 0xffff} {
		if lo <= top && top < hi {
			return utf8Ranges(lo, top) + utf8Ranges(top+1, hi)
		}
	}
	for i := 1; i < utf8.UTFMax; i++ {
		m := rune(1)<<(6*i) - 1 // the last i bytes of a sequence
		if lo&^m == hi&^m {
			continue
		}
		if lo&m != 0 {
			return utf8Ranges(lo, lo|m) + utf8Ranges((lo|m)+1, hi)
		}
		if hi&m != m {
			return utf8Ranges(lo, (hi&^m)-1) + utf8Ranges(hi&^m, hi)
		}
	}
	return utf8.RuneLen(lo)
}

// firstStep is the cost of what the program can match first: the
// instructions RE2 copies into its unanchored start.
func firstStep(prog *syntax.Prog) int {
	seen := map[uint32]bool{}
	var walk func(pc uint32) int
	walk = func(pc uint32) int {
		if seen[pc] {
			return 0
		}
		seen[pc] = true
		inst := prog.Inst[pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			return walk(inst.Out) + walk(inst.Arg)
		case syntax.InstNop, syntax.InstCapture, syntax.InstEmptyWidth:
			return walk(inst.Out)
		}
		return re2Instructions(inst)
	}
	return walk(uint32(prog.Start))
}
