package blas

import "testing"

func TestBetterCoreType(t *testing.T) {
	for _, c := range []struct {
		core         string
		avx512, avx2 bool
		want         string
	}{
		{"Prescott", true, true, "SkylakeX"},
		{"Prescott", false, true, "Haswell"},
		{"Prescott", false, false, ""},
		{"SkylakeX", true, true, ""},
		{"Zen", false, true, ""},
		{"", true, true, ""}, // the pure-Go build
	} {
		if got := betterCoreType(c.core, c.avx512, c.avx2); got != c.want {
			t.Errorf("betterCoreType(%q, avx512 %v, avx2 %v) = %q, want %q", c.core, c.avx512, c.avx2, got, c.want)
		}
	}
}
