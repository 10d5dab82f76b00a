package analysis

import (
	"math"
	"testing"
)

func TestMannWhitneyGreater(t *testing.T) {
	cases := []struct {
		name  string
		x, y  []float64
		wantU float64
		wantP float64
	}{
		{
			// SciPy's mannwhitneyu documentation example (ages of male and
			// female staff). U1 = 17 of 5*4 = 20 pairs. Exact: of the
			// C(9,4) = 126 equally likely orderings, U = 20, 19, 18, 17 occur
			// 1, 1, 2, 3 times, so P(U >= 17) = 7/126 = 0.0556 (SciPy's
			// two-sided exact p = 0.1111 is twice this).
			name: "scipy docs example, exact", x: []float64{19, 22, 16, 29, 24}, y: []float64{20, 11, 17, 12},
			wantU: 17, wantP: 7.0 / 126,
		},
		{
			// Three x all above two y: only 1 of C(5,3) = 10 orderings
			// reaches U = 6.
			name: "complete separation, exact", x: []float64{1.1, 2.2, 3.3}, y: []float64{0.5, 0.7},
			wantU: 6, wantP: 0.1,
		},
		{
			// x entirely below y: U = 0, and P(U >= 0) = 1.
			name: "x below y, exact", x: []float64{1, 2, 3}, y: []float64{4, 5, 6},
			wantU: 0, wantP: 1,
		},
		{
			// Ties force the normal approximation. Pairs: U = 67.5 (ties
			// count one half). Tie groups of size 3 at 1, 2, 3, 4, 5 and of
			// size 2 at 6: sum(t^3 - t) = 5*24 + 6 = 126. n = 20, so
			// var = 10*10/12 * (21 - 126/380) = 172.2368, sd = 13.1239,
			// z = (67.5 - 50 - 0.5)/13.1239 = 1.29535, p = 1 - Phi(z) = 0.09760.
			name: "ties, normal approximation",
			x:    []float64{1, 2, 2, 3, 4, 5, 5, 6, 7, 9}, y: []float64{0, 1, 1, 2, 3, 3, 4, 4, 5, 6},
			wantU: 67.5, wantP: 0.0976004,
		},
		{
			// Per-minute error rates as the analysis sees them: mostly zero.
			// The four non-zero x beat all ten y (40 pairs); the six zero x
			// tie with the nine zero y (27 pairs at one half): U = 67. One
			// tie group of 15 zeros: sum(t^3 - t) = 3360, so
			// var = 100/12 * (21 - 3360/380) = 101.316, sd = 10.0656,
			// z = (67 - 50 - 0.5)/10.0656 = 1.63925, p = 0.05058: just short
			// of significance at 0.05.
			name: "mostly zero error rates",
			x:    []float64{0, 0, 0, 2.5, 0, 3.1, 0, 4.0, 1.2, 0}, y: []float64{0, 0, 0, 0, 0, 0, 0.4, 0, 0, 0},
			wantU: 67, wantP: 0.0505805,
		},
		{
			// Eight per side, no ties: exact. 418 of C(16,8) = 12870
			// orderings have U >= 50.
			name: "eight per side, exact", x: []float64{5, 6, 7, 8, 9, 10, 11, 12}, y: []float64{1, 2, 3, 4, 5.5, 6.5, 7.5, 13},
			wantU: 50, wantP: 418.0 / 12870,
		},
		{name: "all tied", x: []float64{0, 0, 0, 0, 0, 0, 0, 0, 0}, y: []float64{0, 0, 0, 0, 0, 0, 0, 0, 0}, wantU: 40.5, wantP: 1},
		{name: "empty x", x: nil, y: []float64{1, 2}, wantU: 0, wantP: 1},
		{name: "empty y", x: []float64{1, 2}, y: nil, wantU: 0, wantP: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, p := MannWhitneyGreater(c.x, c.y)
			if u != c.wantU {
				t.Errorf("U = %v, want %v", u, c.wantU)
			}
			if math.Abs(p-c.wantP) > 5e-5 {
				t.Errorf("p = %.6f, want %.6f", p, c.wantP)
			}
		})
	}
}

// With no ties and more than eight values per side the normal approximation
// is used; it must agree with the exact tail to two decimals.
func TestMannWhitneyNormalCloseToExact(t *testing.T) {
	x := []float64{5, 6, 7, 8, 9, 10, 11, 12, 14}
	y := []float64{1, 2, 3, 4, 5.5, 6.5, 7.5, 13, 0.5}
	u, p := MannWhitneyGreater(x, y)
	exact := exactUpperTail(9, 9, int(u))
	if math.Abs(p-exact) > 0.01 {
		t.Errorf("normal p = %.4f, exact p = %.4f", p, exact)
	}
}

func TestExactUpperTailIsADistribution(t *testing.T) {
	for n1 := 1; n1 <= 6; n1++ {
		for n2 := 1; n2 <= 6; n2++ {
			if p := exactUpperTail(n1, n2, 0); p != 1 {
				t.Errorf("P(U >= 0) for %d,%d = %v", n1, n2, p)
			}
			if p := exactUpperTail(n1, n2, n1*n2+1); p != 0 {
				t.Errorf("P(U > max) for %d,%d = %v", n1, n2, p)
			}
			// Symmetry: P(U >= k) = P(U <= n1*n2 - k) = 1 - P(U >= n1*n2 - k + 1).
			for k := 0; k <= n1*n2; k++ {
				a := exactUpperTail(n1, n2, k)
				b := 1 - exactUpperTail(n1, n2, n1*n2-k+1)
				if math.Abs(a-b) > 1e-12 {
					t.Fatalf("asymmetric at n1=%d n2=%d k=%d: %v vs %v", n1, n2, k, a, b)
				}
			}
		}
	}
}
