package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// Trainer holds an experiment's model, its two optimizers and the random
// state, and takes training steps. Everything needed to continue
// bit-identically is in it.
type Trainer struct {
	Experiment Experiment
	Config     Config
	Model      Model
	Network    *optim.Adam // inference and generation (φ, θ): minimise
	Critic     *optim.Adam // critics: maximise
	Step       int         // completed steps
	src        *rand.PCG   // the training noise stream (sampling, GP interpolation)
	rng        *rand.Rand
}

// Seeds of the streams a run's seed starts: weight initialisation and
// training noise.
const (
	initStream  = 0x1417
	noiseStream = 0x5eed
)

// NewTrainer builds ex's model of cfg from cfg's seed, and fresh optimizers.
func NewTrainer(ex Experiment, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := cfg.RunSettings()
	m, err := ex.NewModel(cfg, rand.New(rand.NewPCG(s.Seed, initStream)))
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(s.Seed, noiseStream)
	return &Trainer{
		Experiment: ex,
		Config:     cfg,
		Model:      m,
		Network:    optim.NewAdam(s.NetworkAdam, m.NetworkParameters()),
		Critic:     optim.NewAdam(s.CriticAdam, m.CriticParameters()),
		src:        src,
		rng:        rand.New(src),
	}, nil
}

// Settings returns the trainer's shared run settings.
func (t *Trainer) Settings() *Settings { return t.Config.RunSettings() }

// RNG returns the training noise generator.
func (t *Trainer) RNG() *rand.Rand { return t.rng }

// NumericError reports a NaN or Inf in a loss, a gradient, a parameter after
// an update, or a tensor about to be checkpointed. Term names which.
type NumericError struct {
	Step int
	Term string
}

func (e *NumericError) Error() string {
	return fmt.Sprintf("step %d: %s is NaN or infinite", e.Step, e.Term)
}

// ErrNumeric matches any *NumericError with errors.Is.
var ErrNumeric = errors.New("non-finite value")

// Is lets errors.Is(err, ErrNumeric) match.
func (e *NumericError) Is(target error) bool { return target == ErrNumeric }

// SetEpochRates applies the learning-rate schedule for (0-based) epoch e.
func (t *Trainer) SetEpochRates(e int) {
	s := t.Settings()
	t.Network.SetLearningRate(s.Schedule.Rate(s.NetworkAdam.LearningRate, e))
	t.Critic.SetLearningRate(s.Schedule.Rate(s.CriticAdam.LearningRate, e))
}

// TrainStep takes one training step on batches: CriticSteps critic updates
// (one per batch, the last batch shared with the network update), then one
// update of inference and generation against the updated critics, through
// the recorded phases. Parameters are left untouched if any loss or
// gradient is not finite; a parameter that an update makes non-finite is
// reported too (the trainer is then unusable: the run stops without
// checkpointing it).
func (t *Trainer) TrainStep(batches [][]*tensor.Tensor) (objective.Terms, error) {
	if k := t.Settings().CriticSteps; len(batches) != k {
		panic(fmt.Sprintf("train: %d batches for %d critic steps", len(batches), k))
	}
	terms := objective.Terms{}
	var phases Phases
	for k, b := range batches {
		// Wake, sleep and top-down phases; recorded so that the network
		// update below can reuse them without running them again.
		phases = t.Model.Phases(b, t.rng)
		criticLoss, ct := phases.CriticLoss(t.rng)
		grads, err := t.grads(criticLoss, ct, t.Critic.Params, "critic loss")
		if err != nil {
			return nil, err
		}
		t.Critic.Update(grads)
		if err := t.checkParams(t.Critic.Params, "critic"); err != nil {
			return nil, err
		}
		if k == len(batches)-1 {
			for name, v := range ct {
				terms[name] = v
			}
			terms["critic/loss"] = criticLoss.Item()
		}
	}
	netLoss, nt := phases.NetworkLoss()
	grads, err := t.grads(netLoss, nt, t.Network.Params, "network loss")
	if err != nil {
		return nil, err
	}
	t.Network.Update(grads)
	if err := t.checkParams(t.Network.Params, "network"); err != nil {
		return nil, err
	}
	for name, v := range nt {
		terms[name] = v
	}
	terms["net/loss"] = netLoss.Item()
	t.Step++
	return terms, nil
}

func (t *Trainer) grads(loss *ad.Var, terms objective.Terms, params []*nn.Parameter, what string) ([]*tensor.Tensor, error) {
	if v := loss.Item(); math.IsNaN(v) || math.IsInf(v, 0) {
		// Name the terms of the loss that are not finite, if any.
		var bad []string
		for name, x := range terms {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				bad = append(bad, fmt.Sprintf("%s = %g", name, x))
			}
		}
		sort.Strings(bad)
		if len(bad) > 0 {
			what += " (" + strings.Join(bad, ", ") + ")"
		}
		return nil, &NumericError{Step: t.Step + 1, Term: what}
	}
	gs := ad.Grad(loss, nn.Vars(params), nil)
	out := make([]*tensor.Tensor, len(gs))
	for i, g := range gs {
		if g.Value.HasNaNOrInf() {
			return nil, &NumericError{Step: t.Step + 1, Term: "gradient of " + what + " w.r.t. " + params[i].Name}
		}
		out[i] = g.Value
	}
	return out, nil
}

// checkParams reports a parameter that an update left NaN or infinite (a
// finite gradient with an overflowing step). The step is then unusable: the
// run stops and no checkpoint of it is written.
func (t *Trainer) checkParams(params []*nn.Parameter, which string) error {
	for _, p := range params {
		if p.V.Value.HasNaNOrInf() {
			return &NumericError{Step: t.Step + 1, Term: which + " parameter " + p.Name + " after the update"}
		}
	}
	return nil
}
