package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

// StateFile is a run's record of the sweep that started it, in its folder:
// the train arguments it was started with and how far it got.
const StateFile = "sweep-run.json"

// State is what StateFile holds.
type State struct {
	Args      []string `json:"args"`
	Trained   bool     `json:"trained"`   // train finished (exit 0)
	Evaluated bool     `json:"evaluated"` // eval finished (exit 0)
}

// ReadState returns the state of the run in dir; ok is false when dir has
// no StateFile.
func ReadState(dir string) (st State, ok bool, err error) {
	p := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("read %q: %w", p, err)
	}
	return st, true, nil
}

// WriteState writes the state of the run in dir (created if need be),
// atomically.
func WriteState(dir string, st State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, StateFile), append(b, '\n'), 0o644)
}

// Step is what a run of a sweep needs next.
type Step int

const (
	Fresh  Step = iota // nothing yet: train
	Resume             // started, not finished: train --resume
	Eval               // trained, not evaluated
	Done               // trained and evaluated (or evaluation not wanted)
)

func (s Step) String() string {
	return [...]string{"fresh", "resume", "eval", "done"}[s]
}

// Plan says what run r needs next, given whether it is to be evaluated:
// from its StateFile, and whether its folder holds a config.json (a run
// started before its first checkpoint, or after: train --resume handles
// both). A folder holding a run that this sweep did not start, or started
// with other arguments, is an error saying so.
func Plan(r Run, evaluate bool, configFile string) (Step, error) {
	st, ok, err := ReadState(r.Dir)
	if err != nil {
		return 0, err
	}
	_, cfgErr := os.Stat(filepath.Join(r.Dir, configFile))
	hasConfig := cfgErr == nil
	switch {
	case !ok && hasConfig:
		return 0, fmt.Errorf("%s holds a run this sweep did not start (no %s): choose another --out, or move it away", r.Dir, StateFile)
	case !ok:
		return Fresh, nil
	case !slices.Equal(st.Args, r.Args):
		return 0, fmt.Errorf("%s was started with other train arguments (%q, now %q): choose another --out, or remove the run", r.Dir, st.Args, r.Args)
	case !st.Trained && hasConfig:
		return Resume, nil
	case !st.Trained:
		return Fresh, nil
	case evaluate && !st.Evaluated:
		return Eval, nil
	}
	return Done, nil
}
