package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

// Files of a sweep's summary, in its output folder.
const (
	SummaryJSON = "summary.json"
	SummaryCSV  = "summary.csv"
	SummaryMD   = "summary.md"
)

// Level is the confidence level of the summary's intervals.
const Level = 0.95

// skipped are the fields of an eval JSON that describe the evaluation, not
// its outcome: they are left out of a summary.
var skipped = map[string]bool{
	"step": true, "epoch": true, "n": true, "seed": true, "gamma": true,
	"classifier_test_accuracy": true, "classifier_features": true,
	"options": true, "draws": true, "half_n": true, "eligible_x": true,
}

// Flatten returns the numeric scalars of an eval JSON by path
// ("frechet.sleep_test", "alignments[8x8z].kl_wake_sleep.mean"): nested
// objects are walked, an element of an array of objects is named by its
// index or, for an alignment, by its units; arrays of numbers (histograms,
// unit lists) and the fields describing the evaluation (skipped) are left
// out.
func Flatten(b []byte) (map[string]float64, error) {
	var tree any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	if _, ok := tree.(map[string]any); !ok {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]float64{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if skipped[k] {
					continue
				}
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(x, p)
			}
		case []any:
			for i, x := range v {
				m, ok := x.(map[string]any)
				if !ok {
					return // an array of numbers or strings
				}
				walk(m, fmt.Sprintf("%s[%s]", path, elementName(m, i)))
			}
		case json.Number:
			if f, err := v.Float64(); err == nil {
				out[path] = f
			}
		}
	}
	walk(tree, "")
	return out, nil
}

// elementName names an element of an array of objects: an alignment by its
// units ("8x8z"), anything else by its index.
func elementName(m map[string]any, i int) string {
	if o, ok := m["options"].(map[string]any); ok {
		x, xok := o["x_units"].(json.Number)
		z, zok := o["z_units"].(json.Number)
		if xok && zok {
			return fmt.Sprintf("%sx%sz", x, z)
		}
	}
	return strconv.Itoa(i)
}

// Stat is one metric of one setting across its seeds.
type Stat struct {
	Mean   float64   `json:"mean"`
	SD     float64   `json:"sd"`           // sample standard deviation (n−1); 0 for one value
	Lo     *float64  `json:"lo,omitempty"` // t-based interval at Level; absent for fewer than 2 seeds
	Hi     *float64  `json:"hi,omitempty"`
	Seeds  []uint64  `json:"seeds"`
	Values []float64 `json:"values"`
}

// N is the number of seeds.
func (s Stat) N() int { return len(s.Values) }

// Summary is a sweep's outcome: per setting and metric, a Stat.
type Summary struct {
	Level    float64                    `json:"level"`
	Settings []string                   `json:"settings"`
	Metrics  []string                   `json:"metrics"`
	Stats    map[string]map[string]Stat `json:"stats"` // setting → metric → Stat
	Command  string                     `json:"command,omitempty"`
	Version  string                     `json:"version,omitempty"`
}

// Result is the flattened eval of one run.
type Result struct {
	Setting string
	Seed    uint64
	Values  map[string]float64
}

// Summarize gathers results by setting (in the order of settings) and
// metric (sorted) into a Summary; a non-finite value is left out.
func Summarize(settings []string, results []Result) *Summary {
	s := &Summary{Level: Level, Settings: settings, Stats: map[string]map[string]Stat{}}
	metrics := map[string]bool{}
	for _, r := range results {
		m := s.Stats[r.Setting]
		if m == nil {
			m = map[string]Stat{}
			s.Stats[r.Setting] = m
		}
		for k, v := range r.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			st := m[k]
			st.Seeds = append(st.Seeds, r.Seed)
			st.Values = append(st.Values, v)
			m[k] = st
			metrics[k] = true
		}
	}
	for k := range metrics {
		s.Metrics = append(s.Metrics, k)
	}
	sort.Strings(s.Metrics)
	for _, m := range s.Stats {
		for k, st := range m {
			st.Mean, st.SD, st.Lo, st.Hi = tInterval(st.Values, Level)
			m[k] = st
		}
	}
	return s
}

// tInterval is the mean of v, its sample standard deviation and the
// Student-t interval mean ± t_{(1+level)/2, n−1}·sd/√n (nil bounds for
// fewer than two values).
func tInterval(v []float64, level float64) (mean, sd float64, lo, hi *float64) {
	n := float64(len(v))
	for _, x := range v {
		mean += x
	}
	mean /= n
	if len(v) < 2 {
		return mean, 0, nil, nil
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd = math.Sqrt(ss / (n - 1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}.Quantile((1 + level) / 2)
	h := t * sd / math.Sqrt(n)
	l, u := mean-h, mean+h
	return mean, sd, &l, &u
}

// Write writes summary.json, summary.csv and summary.md into dir.
func (s *Summary) Write(dir string) error {
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SummaryJSON), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var c bytes.Buffer
	w := csv.NewWriter(&c)
	w.Write([]string{"setting", "metric", "n", "mean", "sd", "ci_lo", "ci_hi", "seeds", "values"})
	for _, set := range s.Settings {
		for _, m := range s.Metrics {
			st, ok := s.Stats[set][m]
			if !ok {
				continue
			}
			w.Write([]string{set, m, strconv.Itoa(st.N()), num(st.Mean), num(st.SD), ptr(st.Lo), ptr(st.Hi), joinSeeds(st.Seeds), joinNums(st.Values)})
		}
	}
	w.Flush()
	if err := atomicfile.WriteFile(filepath.Join(dir, SummaryCSV), c.Bytes(), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	s.Markdown(&md)
	return atomicfile.WriteFile(filepath.Join(dir, SummaryMD), md.Bytes(), 0o644)
}

// Markdown writes the summary as a table: a row per metric, a column per
// setting, each cell "mean [lo, hi] (n)".
func (s *Summary) Markdown(w io.Writer) {
	fmt.Fprintf(w, "# Sweep summary\n\n")
	if s.Command != "" {
		fmt.Fprintf(w, "Command: `%s`  \nBuild: %s\n\n", s.Command, s.Version)
	}
	fmt.Fprintf(w, "Mean over seeds with the t-based %g%% confidence interval [lo, hi] and the number of seeds n (one seed: no interval).\n\n", s.Level*100)
	fmt.Fprintf(w, "| metric | %s |\n|---|%s\n", strings.Join(s.Settings, " | "), strings.Repeat("---|", len(s.Settings)))
	for _, m := range s.Metrics {
		cells := make([]string, len(s.Settings))
		for i, set := range s.Settings {
			cells[i] = s.Cell(set, m)
		}
		fmt.Fprintf(w, "| %s | %s |\n", m, strings.Join(cells, " | "))
	}
}

// Cell formats a setting's metric: "0.812 [0.790, 0.834] (n=3)", "–" if
// absent.
func (s *Summary) Cell(setting, metric string) string {
	st, ok := s.Stats[setting][metric]
	if !ok {
		return "–"
	}
	if st.Lo == nil {
		return fmt.Sprintf("%.4g (n=%d)", st.Mean, st.N())
	}
	return fmt.Sprintf("%.4g [%.4g, %.4g] (n=%d)", st.Mean, *st.Lo, *st.Hi, st.N())
}

// ReadSummary reads a sweep's summary.json, given it or the sweep folder.
// ok is false (and err nil) when path is neither.
func ReadSummary(path string) (s *Summary, ok bool, err error) {
	p := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		p = filepath.Join(path, SummaryJSON)
	} else if filepath.Base(path) != SummaryJSON {
		return nil, false, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	s = &Summary{}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, true, fmt.Errorf("read %q: %w", p, err)
	}
	if s.Stats == nil {
		return nil, true, fmt.Errorf("read %q: no stats: not a wakesleep sweep summary", p)
	}
	return s, true, nil
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func ptr(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func joinSeeds(v []uint64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(s, " ")
}

func joinNums(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = num(x)
	}
	return strings.Join(s, " ")
}
