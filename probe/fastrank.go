package probe

import (
	"math"
	"sort"
)

// The bootstrap resamples of AUC and Spearman's ρ hold the same values as
// the full sample, only with multiplicities. Sorting once and sweeping the
// sorted order with each resample's multiplicities gives the same midranks
// as ranking the resample afresh, in linear instead of n log n time.

// sortedIndex returns the indices of v in increasing order of value, NaNs
// last (a NaN compares false with everything, which is no order to sort by).
func sortedIndex(v []float64) []int {
	ord := make([]int, len(v))
	for i := range ord {
		ord[i] = i
	}
	sort.Slice(ord, func(a, b int) bool {
		x, y := v[ord[a]], v[ord[b]]
		return x < y || (!math.IsNaN(x) && math.IsNaN(y))
	})
	return ord
}

// weightedMidranks sets r[i], for every item i with w[i] > 0, to the
// midrank of v[i] in the multiset in which item i occurs w[i] times: the
// ranks a tie group of total weight W starting after C smaller elements
// spans are C+1 … C+W, whose mean is C + (W+1)/2. ord is sortedIndex(v).
func weightedMidranks(v []float64, ord []int, w, r []float64) {
	cum := 0.0
	for a := 0; a < len(ord); {
		// The group starts with item a itself: a NaN equals nothing, not
		// even itself, and must still move the sweep on.
		b, tot := a+1, w[ord[a]]
		for b < len(ord) && v[ord[b]] == v[ord[a]] {
			tot += w[ord[b]]
			b++
		}
		mid := cum + (tot+1)/2
		for _, i := range ord[a:b] {
			r[i] = mid
		}
		cum += tot
		a = b
	}
}

// weightedPearson returns the Pearson correlation of x and y over items
// weighted by w (NaN if either is constant).
func weightedPearson(x, y, w []float64) float64 {
	var sw, sx, sy float64
	for i, wi := range w {
		if wi == 0 {
			continue
		}
		sw += wi
		sx += wi * x[i]
		sy += wi * y[i]
	}
	mx, my := sx/sw, sy/sw
	var sxy, sxx, syy float64
	for i, wi := range w {
		if wi == 0 {
			continue
		}
		dx, dy := x[i]-mx, y[i]-my
		sxy += wi * dx * dy
		sxx += wi * dx * dx
		syy += wi * dy * dy
	}
	if sxx == 0 || syy == 0 {
		return nan
	}
	return sxy / sqrt(sxx*syy)
}

// weightedAUC returns the AUC of the items (sorted by ord) with positive
// weights wp (positives) and wn (negatives) per item, ties counting half.
func weightedAUC(v []float64, ord []int, wp, wn []float64) float64 {
	var below, sum, np, nn float64
	for a := 0; a < len(ord); {
		b := a + 1 // as in weightedMidranks: a NaN still moves the sweep on
		gp, gn := wp[ord[a]], wn[ord[a]]
		for b < len(ord) && v[ord[b]] == v[ord[a]] {
			gp += wp[ord[b]]
			gn += wn[ord[b]]
			b++
		}
		sum += gp * (below + gn/2)
		below += gn
		np += gp
		nn += gn
		a = b
	}
	if np == 0 || nn == 0 {
		return nan
	}
	return sum / (np * nn)
}
