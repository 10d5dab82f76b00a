package spec

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// nested is an object nested depth levels deep under keys of keyLen
// characters: {"kkk…": {"kkk…": … {} … }}.
func nested(depth, keyLen int) []byte {
	open := `{"` + strings.Repeat("k", keyLen) + `":`
	var b bytes.Buffer
	b.Grow(depth * (len(open) + 1))
	for range depth {
		b.WriteString(open)
	}
	b.WriteString("{}")
	for range depth {
		b.WriteByte('}')
	}
	return b.Bytes()
}

// members is an object of members written as format(i), as many as fit in
// size bytes.
func members(size int, format func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; ; i++ {
		m := format(i)
		if b.Len()+len(m)+2 > size {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// worstInputs are the inputs that cost Parse the most for their size.
func worstInputs() []struct {
	name string
	data []byte
} {
	return []struct {
		name string
		data []byte
	}{
		// 9,990 levels of 24 bytes: 240 KB, just inside encoding/json's own depth limit.
		{"deep-9990-240KB", nested(9990, 19)},
		// As deep as encoding/json reads, within the size limit.
		{"deep-9999-at-limit", nested(9999, 1)},
		// The deepest nesting Parse accepts, its keys filling the size limit.
		{"deep-accepted-at-limit", nested(MaxDepth-1, (MaxDeployJSONBytes/MaxDepth)-6)},
		{"widest-object", members(MaxDeployJSONBytes, func(i int) string { return fmt.Sprintf(`"k%05d":0`, i) })},
		{"longest-string", []byte(`{"cluster_name":"` + strings.Repeat("x", MaxDeployJSONBytes-20) + `"}`)},
		{"duplicate-keys", members(MaxDeployJSONBytes, func(int) string { return `"a":0` })},
		{"duplicate-keys-nested", []byte(`{"analysis":` + string(members(MaxDeployJSONBytes-20, func(int) string { return `"interval":10` })) + `}`)},
		{"mistyped-list-items", []byte(`{"steps":[` + strings.Repeat(`"x",`, (MaxDeployJSONBytes-20)/4) + `"x"]}`)},
	}
}

// BenchmarkParseWorstInputs measures time, bytes allocated per op and
// peak-heap-B, the heap the process had to take from the system for one
// Parse: what a Lambda's memory size must cover.
func BenchmarkParseWorstInputs(b *testing.B) {
	for _, in := range worstInputs() {
		b.Run(fmt.Sprintf("%s-%dB", in.name, len(in.data)), func(b *testing.B) {
			peak := peakHeap(func() { _, _ = Parse(in.data) })
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(in.data)
			}
			b.ReportMetric(float64(peak), "peak-heap-B")
		})
	}
}

// peakHeap returns how much the heap held from the system grew while f ran,
// starting from a heap returned to the system.
func peakHeap(f func()) uint64 {
	var before, after runtime.MemStats
	debug.FreeOSMemory()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	held := func(m runtime.MemStats) uint64 { return m.HeapSys - m.HeapReleased }
	if held(after) < held(before) {
		return 0
	}
	return held(after) - held(before)
}
