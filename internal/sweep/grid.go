// Package sweep plans a grid of training runs (every setting × every seed)
// and summarises their evaluations across seeds: per setting, the mean and
// a t-based 95% confidence interval of every scalar of the runs' eval JSON.
// Running the runs is the command line's (wakesleep sweep).
package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Setting is a named list of train flags.
type Setting struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
}

// Grid is a sweep: every setting trained with every seed. Common are the
// train arguments of every run (the experiment among them, anywhere).
type Grid struct {
	Seeds    []uint64  `json:"seeds"`
	Common   []string  `json:"common,omitempty"`
	Settings []Setting `json:"settings"`
}

// DefaultSetting names the one setting of a grid that gives none.
const DefaultSetting = "default"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseSet parses a setting as given on the command line, "<name>: <flags>",
// the flags separated by spaces ("a: --critic-steps 1 --gamma 0.5"); a value
// with spaces may be quoted with '…' or "…".
func ParseSet(s string) (Setting, error) {
	name, rest, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || !nameRE.MatchString(name) {
		return Setting{}, fmt.Errorf("--set %q: want \"<name>: <train flags>\", the name of letters, digits, '.', '_' or '-'", s)
	}
	args, err := SplitArgs(rest)
	if err != nil {
		return Setting{}, fmt.Errorf("--set %q: %v", s, err)
	}
	return Setting{Name: name, Args: args}, nil
}

// SplitArgs splits a line into arguments at spaces, honouring '…' and "…"
// quotes (no escapes).
func SplitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inArg, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inArg {
				out = append(out, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote", quote)
	}
	if inArg {
		out = append(out, cur.String())
	}
	return out, nil
}

// ParseSeeds parses "1,2,3" or a range "1-5" (or a mix: "1-3,7").
func ParseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 64)
		}
		if err != nil || a == 0 || b < a || b-a >= maxRuns {
			return nil, fmt.Errorf("--seeds %q: want positive integers or ranges such as 1,2,3 or 1-5", s)
		}
		for v := a; ; v++ {
			out = append(out, v)
			if v == b {
				break
			}
		}
	}
	return out, nil
}

// maxRuns bounds the runs of a sweep: beyond it a mistake (1-1000000) is likelier than a plan.
const maxRuns = 10000

// ReadGrid reads a grid file strictly: unknown fields and trailing data are
// errors naming the file.
func ReadGrid(path string) (*Grid, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var g Grid
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("read grid %q: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("read grid %q: trailing data after the JSON object", path)
	}
	return &g, nil
}

// Validate checks a grid: seeds given, distinct and positive; setting
// names valid and distinct; no more than maxRuns runs. A grid without
// settings gets the one setting DefaultSetting.
func (g *Grid) Validate() error {
	if len(g.Seeds) == 0 {
		return errors.New("no seeds (--seeds 1,2,3)")
	}
	seen := map[uint64]bool{}
	for _, s := range g.Seeds {
		if s == 0 || seen[s] {
			return fmt.Errorf("seeds %v: want distinct positive seeds", g.Seeds)
		}
		seen[s] = true
	}
	if len(g.Settings) == 0 {
		g.Settings = []Setting{{Name: DefaultSetting}}
	}
	names := map[string]bool{}
	for _, s := range g.Settings {
		if !nameRE.MatchString(s.Name) {
			return fmt.Errorf("setting name %q: want letters, digits, '.', '_' or '-'", s.Name)
		}
		if names[s.Name] {
			return fmt.Errorf("setting %q given twice", s.Name)
		}
		names[s.Name] = true
	}
	if len(g.Seeds)*len(g.Settings) > maxRuns {
		return fmt.Errorf("%d seeds × %d settings exceed %d runs", len(g.Seeds), len(g.Settings), maxRuns)
	}
	return nil
}

// Run is one run of a grid: its setting, seed, folder and train arguments
// (after "train": the common ones, the setting's, then --seed and --run).
type Run struct {
	Setting string
	Seed    uint64
	Dir     string
	Args    []string
}

// Name is the run's name in messages: <setting>/s<seed>.
func (r Run) Name() string { return fmt.Sprintf("%s/s%d", r.Setting, r.Seed) }

// Runs lists the grid's runs, setting by setting, each in
// <out>/<setting>/s<seed>.
func (g *Grid) Runs(out string) []Run {
	var runs []Run
	for _, s := range g.Settings {
		for _, seed := range g.Seeds {
			dir := filepath.Join(out, s.Name, fmt.Sprintf("s%d", seed))
			args := append(append(append([]string{}, g.Common...), s.Args...), "--seed", strconv.FormatUint(seed, 10), "--run", dir)
			runs = append(runs, Run{Setting: s.Name, Seed: seed, Dir: dir, Args: args})
		}
	}
	return runs
}
