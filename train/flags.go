package train

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/optim"
)

// IntFlag is a flag setting the int field of a config of type C.
func IntFlag[C Config](name, usage string, field func(C) *int) Flag {
	return Flag{Name: name, Usage: usage, Type: "int", Set: func(cfg Config, s string) error {
		v, err := strconv.ParseInt(s, 0, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("invalid value %q for flag -%s: parse error", s, name)
		}
		*field(cfg.(C)) = int(v)
		return nil
	}}
}

// PositiveIntFlag is IntFlag refusing values below 1.
func PositiveIntFlag[C Config](name, usage string, field func(C) *int) Flag {
	f := IntFlag(name, usage, field)
	set := f.Set
	f.Set = func(cfg Config, s string) error {
		if v, err := strconv.Atoi(s); err == nil && v <= 0 {
			return fmt.Errorf("--%s %d must be positive", name, v)
		}
		return set(cfg, s)
	}
	return f
}

// FloatFlag is a flag setting the float64 field of a config of type C.
func FloatFlag[C Config](name, usage string, field func(C) *float64) Flag {
	return Flag{Name: name, Usage: usage, Type: "float", Set: func(cfg Config, s string) error {
		v, err := parseFinite(s, name)
		if err != nil {
			return err
		}
		*field(cfg.(C)) = v
		return nil
	}}
}

// StringFlag is a flag setting the string field of a config of type C.
func StringFlag[C Config](name, usage string, field func(C) *string) Flag {
	return Flag{Name: name, Usage: usage, Type: "string", Set: func(cfg Config, s string) error {
		*field(cfg.(C)) = s
		return nil
	}}
}

// BoolFlag is a flag setting the bool field of a config of type C.
func BoolFlag[C Config](name, usage string, field func(C) *bool) Flag {
	return Flag{Name: name, Usage: usage, Type: "bool", Set: func(cfg Config, s string) error {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean value %q for -%s: parse error", s, name)
		}
		*field(cfg.(C)) = v
		return nil
	}}
}

// IntListFlag is a flag setting an []int field from comma-separated
// positive integers.
func IntListFlag[C Config](name, usage string, field func(C) *[]int) Flag {
	return Flag{Name: name, Usage: usage, Type: "string", Set: func(cfg Config, s string) error {
		var out []int
		for _, f := range strings.Split(s, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v <= 0 {
				return fmt.Errorf("--%s %q: want comma-separated positive integers", name, s)
			}
			out = append(out, v)
		}
		*field(cfg.(C)) = out
		return nil
	}}
}

// SettingsFlags are the flags of the settings every experiment shares,
// defined once for all of them. Only --epochs may be given on resume.
func SettingsFlags() []Flag {
	s := func(cfg Config) *Settings { return cfg.RunSettings() }
	epochs := IntFlag("epochs", "epochs (default: from the preset)", func(c Config) *int { return &s(c).Epochs })
	epochs.Resumable = true
	return []Flag{
		epochs,
		IntFlag("batch-size", "batch size (default: from the preset)", func(c Config) *int { return &s(c).BatchSize }),
		IntFlag("critic-steps", "critic updates per network update (default: from the preset; 1)", func(c Config) *int { return &s(c).CriticSteps }),
		FloatFlag("lr-network", "learning rate of inference and generation (default: from the preset; the paper's 1e-4)", func(c Config) *float64 { return &s(c).NetworkAdam.LearningRate }),
		FloatFlag("lr-critic", "learning rate of the critics (default: from the preset; the paper's 4e-4)", func(c Config) *float64 { return &s(c).CriticAdam.LearningRate }),
		{Name: "beta1", Type: "float", Usage: "Adam β1 of both optimizers (default: from the preset; the paper's 0.5)", Set: func(c Config, v string) error {
			return setBoth(c, v, "beta1", func(a *Settings) (*float64, *float64) { return &a.NetworkAdam.Beta1, &a.CriticAdam.Beta1 })
		}},
		{Name: "beta2", Type: "float", Usage: "Adam β2 of both optimizers (default: from the preset; the paper's 0.99)", Set: func(c Config, v string) error {
			return setBoth(c, v, "beta2", func(a *Settings) (*float64, *float64) { return &a.NetworkAdam.Beta2, &a.CriticAdam.Beta2 })
		}},
		{Name: "seed", Type: "uint", Usage: "random seed (weights, data order, noise; default: from the preset, 1)", Set: func(c Config, v string) error {
			n, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return fmt.Errorf("invalid value %q for flag -seed: parse error", v)
			}
			s(c).Seed = n
			return nil
		}},
		{Name: "lr-decay", Type: "string", Usage: "learning-rate decay of both optimizers, FACTOR,START,END: the rates are multiplied by FACTOR once per epoch from epoch START to END (0-based; default: from the preset; the paper's 0.96,200,250; 1,0,0: none)", Set: func(c Config, v string) error {
			sc, err := parseSchedule(v)
			if err != nil {
				return err
			}
			s(c).Schedule = sc
			return nil
		}},
		IntFlag("log-every", "steps between metric rows (default: from the preset)", func(c Config) *int { return &s(c).LogEvery }),
		IntFlag("checkpoint-every", "steps between checkpoints (0: once per epoch)", func(c Config) *int { return &s(c).CheckpointEvery }),
		IntFlag("keep", "checkpoints kept in the run folder (default: from the preset, 3)", func(c Config) *int { return &s(c).KeepCheckpoints }),
	}
}

func setBoth(c Config, v, name string, fields func(*Settings) (*float64, *float64)) error {
	x, err := parseFinite(v, name)
	if err != nil {
		return err
	}
	a, b := fields(c.RunSettings())
	*a, *b = x, x
	return nil
}

// parseFinite parses a float flag's value, refusing NaN and ±Inf (and
// values beyond the range of a float64, which ParseFloat makes ±Inf).
func parseFinite(s, name string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("invalid value %q for flag -%s: parse error", s, name)
	}
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--%s %s: want a finite number", name, s)
	}
	return v, nil
}

// parseSchedule parses --lr-decay's FACTOR,START,END.
func parseSchedule(v string) (optim.Schedule, error) {
	f := strings.Split(v, ",")
	if len(f) != 3 {
		return optim.Schedule{}, fmt.Errorf("--lr-decay %q: want FACTOR,START,END, e.g. 0.96,200,250", v)
	}
	factor, err := parseFinite(strings.TrimSpace(f[0]), "lr-decay")
	if err != nil {
		return optim.Schedule{}, err
	}
	if factor <= 0 || factor > 1 {
		return optim.Schedule{}, fmt.Errorf("--lr-decay %q: FACTOR must be in (0, 1]", v)
	}
	start, err1 := strconv.Atoi(strings.TrimSpace(f[1]))
	end, err2 := strconv.Atoi(strings.TrimSpace(f[2]))
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return optim.Schedule{}, fmt.Errorf("--lr-decay %q: START and END must be epochs with 0 <= START <= END", v)
	}
	return optim.Schedule{Factor: factor, Start: start, End: end}, nil
}
