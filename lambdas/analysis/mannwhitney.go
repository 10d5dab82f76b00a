package analysis

import (
	"math"
	"sort"
)

// exactLimit is the largest sample size for which the exact null
// distribution of U is used (as SciPy's "auto" method: exact below 8 per
// side when there are no ties). The normal approximation is good beyond it.
const exactLimit = 8

// MannWhitneyGreater tests whether the values in x tend to be greater than
// those in y (one-sided Mann-Whitney U, H1: P(X > Y) > 1/2). It returns U for
// x (pairs with x > y, ties counted one half) and the p-value.
//
// Without ties and with both samples of at most 8 values the p-value is
// exact; otherwise it uses the normal approximation with tie correction and
// continuity correction. Gonum offers no rank-sum test, hence this one. With
// an empty sample, or when every value is tied, there is no evidence either
// way and p is 1.
func MannWhitneyGreater(x, y []float64) (u, p float64) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	type obs struct {
		v     float64
		fromX bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })

	// Average ranks for ties; tieTerm accumulates sum(t^3 - t) over tie groups.
	var rankSumX, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		if t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		avg := float64(i+1+j) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].fromX {
				rankSumX += avg
			}
		}
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	u = rankSumX - f1*(f1+1)/2

	if !ties && n1 <= exactLimit && n2 <= exactLimit {
		return u, exactUpperTail(n1, n2, int(math.Round(u)))
	}
	n := f1 + f2
	variance := f1 * f2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 {
		return u, 1
	}
	z := (u - f1*f2/2 - 0.5) / math.Sqrt(variance)
	return u, 0.5 * math.Erfc(z/math.Sqrt2)
}

// exactUpperTail is P(U >= u) when the two samples come from one
// distribution: the share of the C(n1+n2, n1) equally likely rank
// assignments whose U reaches u. counts[i][j][k] would be the number of
// arrangements of i x-values and j y-values with U = k; it is built one
// observation at a time (the largest is either an x, adding j to U, or a y).
func exactUpperTail(n1, n2, u int) float64 {
	maxU := n1 * n2
	if u <= 0 {
		return 1
	}
	if u > maxU {
		return 0
	}
	// prev[j][k] holds counts for i-1 x-values; cur for i.
	prev := make([][]float64, n2+1)
	cur := make([][]float64, n2+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		cur[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // no x-values: one arrangement, U = 0
	}
	for i := 1; i <= n1; i++ {
		for j := 0; j <= n2; j++ {
			for k := 0; k <= maxU; k++ {
				var c float64
				if k >= j {
					c = prev[j][k-j] // largest is an x: it beats all j y-values
				}
				if j > 0 {
					c += cur[j-1][k] // largest is a y
				}
				cur[j][k] = c
			}
		}
		prev, cur = cur, prev
	}
	var tail, total float64
	for k, c := range prev[n2] {
		total += c
		if k >= u {
			tail += c
		}
	}
	return tail / total
}
