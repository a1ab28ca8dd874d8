package sweep

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	s, err := ParseSet(`b3: --critic-steps 3 --silence-z '0, 1'`)
	if err != nil || s.Name != "b3" || !slices.Equal(s.Args, []string{"--critic-steps", "3", "--silence-z", "0, 1"}) {
		t.Errorf("ParseSet: %+v, %v", s, err)
	}
	for _, bad := range []string{"--critic-steps 3", "a b: --x", ": --x", `a: --x 'open`} {
		if _, err := ParseSet(bad); err == nil {
			t.Errorf("ParseSet(%q) accepted", bad)
		}
	}
	seeds, err := ParseSeeds("1-3,7")
	if err != nil || !slices.Equal(seeds, []uint64{1, 2, 3, 7}) {
		t.Errorf("ParseSeeds: %v, %v", seeds, err)
	}
	for _, bad := range []string{"", "0", "3-1", "a", "1-99999999"} {
		if _, err := ParseSeeds(bad); err == nil {
			t.Errorf("ParseSeeds(%q) accepted", bad)
		}
	}
	g := &Grid{Seeds: []uint64{1, 1}}
	if err := g.Validate(); err == nil {
		t.Error("repeated seed accepted")
	}
	g = &Grid{Seeds: []uint64{1, 2}, Common: []string{"mnist"}}
	if err := g.Validate(); err != nil || len(g.Settings) != 1 || g.Settings[0].Name != DefaultSetting {
		t.Errorf("no settings: %v, %+v", err, g.Settings)
	}
	runs := g.Runs("out")
	if len(runs) != 2 || runs[1].Dir != filepath.Join("out", "default", "s2") ||
		!slices.Equal(runs[1].Args, []string{"mnist", "--seed", "2", "--run", filepath.Join("out", "default", "s2")}) {
		t.Errorf("runs: %+v", runs)
	}
}

func TestSummary(t *testing.T) {
	eval := func(kl, fd float64) map[string]float64 {
		v, err := Flatten([]byte(`{"step": 4, "n": 16, "alignments": [{"options": {"x_units": 8, "z_units": 8}, "half_n": 8,
			"kl_wake_sleep": {"mean": ` + num(kl) + `, "std": 0.1}, "draws": [{"kl_wake_sleep": 9}]}],
			"sleep": {"counts": [1, 2], "entropy_bits": 2}, "frechet": {"sleep_test": ` + num(fd) + `}, "algorithm": "local"}`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	got := eval(1, 10)
	want := map[string]float64{"alignments[8x8z].kl_wake_sleep.mean": 1, "alignments[8x8z].kl_wake_sleep.std": 0.1, "sleep.entropy_bits": 2, "frechet.sleep_test": 10}
	if len(got) != len(want) {
		t.Errorf("Flatten: %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Flatten[%s] = %g, want %g", k, got[k], v)
		}
	}
	s := Summarize([]string{"a", "b"}, []Result{
		{"a", 1, eval(1, 10)}, {"a", 2, eval(2, 10)}, {"a", 3, eval(3, 10)}, {"b", 1, eval(5, 7)},
	})
	st := s.Stats["a"]["alignments[8x8z].kl_wake_sleep.mean"]
	// Values 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.302653 → ±2.484138.
	if st.N() != 3 || st.Mean != 2 || st.SD != 1 || math.Abs(*st.Hi-4.484138) > 1e-6 || math.Abs(*st.Lo+0.484138) > 1e-6 {
		t.Errorf("setting a: %+v (lo %v hi %v)", st, *st.Lo, *st.Hi)
	}
	if b := s.Stats["b"]["frechet.sleep_test"]; b.Lo != nil || b.Mean != 7 || s.Cell("b", "frechet.sleep_test") != "7 (n=1)" {
		t.Errorf("one seed: %+v, %q", b, s.Cell("b", "frechet.sleep_test"))
	}
	dir := t.TempDir()
	s.Command = "wakesleep sweep --seeds 1-3"
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	back, ok, err := ReadSummary(dir)
	if err != nil || !ok || back.Cell("a", "alignments[8x8z].kl_wake_sleep.mean") != "2 [-0.4841, 4.484] (n=3)" {
		t.Errorf("ReadSummary: %v %v %+v", ok, err, back)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, SummaryCSV))
	if !strings.Contains(string(csv), "a,alignments[8x8z].kl_wake_sleep.mean,3,2,1,") {
		t.Errorf("summary.csv:\n%s", csv)
	}
	if _, ok, err := ReadSummary(t.TempDir()); ok || err != nil {
		t.Errorf("a folder without a summary: %v, %v", ok, err)
	}
}

func TestPlan(t *testing.T) {
	out := t.TempDir()
	g := &Grid{Seeds: []uint64{1}, Settings: []Setting{{Name: "a", Args: []string{"--critic-steps", "2"}}}}
	r := g.Runs(out)[0]
	step := func() Step {
		t.Helper()
		s, err := Plan(r, true, "config.json")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if step() != Fresh {
		t.Error("empty folder: not fresh")
	}
	if err := WriteState(r.Dir, State{Args: r.Args}); err != nil {
		t.Fatal(err)
	}
	if step() != Fresh {
		t.Error("started, no config.json: not fresh")
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if step() != Resume {
		t.Error("started with a config.json: not resumed")
	}
	WriteState(r.Dir, State{Args: r.Args, Trained: true})
	if step() != Eval {
		t.Error("trained: not evaluated next")
	}
	if s, _ := Plan(r, false, "config.json"); s != Done {
		t.Error("trained, no eval wanted: not done")
	}
	WriteState(r.Dir, State{Args: r.Args, Trained: true, Evaluated: true})
	if step() != Done {
		t.Error("evaluated: not done")
	}
	other := g.Runs(out)[0]
	other.Args = append([]string{"--gamma", "1"}, other.Args...)
	if _, err := Plan(other, true, "config.json"); err == nil || !strings.Contains(err.Error(), "other train arguments") {
		t.Errorf("changed arguments: %v", err)
	}
	os.Remove(filepath.Join(r.Dir, StateFile))
	if _, err := Plan(r, true, "config.json"); err == nil || !strings.Contains(err.Error(), "did not start") {
		t.Errorf("foreign run: %v", err)
	}
}

func TestReadGrid(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "grid.json")
	os.WriteFile(p, []byte(`{"seeds": [1, 2], "common": ["mnist", "--epochs", "2"], "settings": [{"name": "c1", "args": ["--critic-steps", "1"]}]}`), 0o644)
	g, err := ReadGrid(p)
	if err != nil || g.Validate() != nil || len(g.Runs("out")) != 2 || g.Runs("out")[0].Args[4] != "1" {
		t.Errorf("grid: %+v, %v", g, err)
	}
	os.WriteFile(p, []byte(`{"seeds": [1], "setting": []}`), 0o644)
	if _, err := ReadGrid(p); err == nil || !strings.Contains(err.Error(), `unknown field "setting"`) || !strings.Contains(err.Error(), p) {
		t.Errorf("misspelt field: %v", err)
	}
}
