package train

import (
	"fmt"
	"math/rand/v2"
	"strings"

	ad "github.com/wakesleep/wakesleep/autodiff"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/objective"
	"github.com/wakesleep/wakesleep/tensor"
)

// Net is what the trainer needs of an experiment's model.
type Net interface {
	Parameters() []*nn.Parameter
	NetworkParameters() []*nn.Parameter
	CriticParameters() []*nn.Parameter
}

// Objective is an experiment's objective over its phases P: Run records one
// batch's phases, Critic and Network compute the two losses from them.
type Objective[P any] struct {
	Run     func(batch []*tensor.Tensor, rng *rand.Rand) P
	Critic  func(p P, rng *rand.Rand) (*ad.Var, objective.Terms)
	Network func(p P) (*ad.Var, objective.Terms)
}

// Bind returns net bound to its objective: a Model. A net with batch-norm
// statistics saves them through a Buffers() []*nn.Buffer method.
func Bind[P any](net Net, o Objective[P]) Model {
	return &bound[P]{net: net, o: o}
}

type bound[P any] struct {
	net Net
	o   Objective[P]
}

func (b *bound[P]) Parameters() []*nn.Parameter        { return b.net.Parameters() }
func (b *bound[P]) NetworkParameters() []*nn.Parameter { return b.net.NetworkParameters() }
func (b *bound[P]) CriticParameters() []*nn.Parameter  { return b.net.CriticParameters() }
func (b *bound[P]) Unbound() Net                       { return b.net }

func (b *bound[P]) Buffers() []*nn.Buffer {
	if bs, ok := b.net.(interface{ Buffers() []*nn.Buffer }); ok {
		return bs.Buffers()
	}
	return nil
}

func (b *bound[P]) Phases(batch []*tensor.Tensor, rng *rand.Rand) Phases {
	return &phases[P]{o: &b.o, p: b.o.Run(batch, rng)}
}

type phases[P any] struct {
	o *Objective[P]
	p P
}

func (p *phases[P]) CriticLoss(rng *rand.Rand) (*ad.Var, objective.Terms) {
	return p.o.Critic(p.p, rng)
}
func (p *phases[P]) NetworkLoss() (*ad.Var, objective.Terms) { return p.o.Network(p.p) }

// Typed is a trainer with its experiment's own model and config at hand.
type Typed[N Net, C Config] struct {
	*Trainer
	Model  N
	Config C
}

// View returns tr with its model and config as an experiment's own types,
// or an error naming the experiment tr trains (want: what was expected).
func View[N Net, C Config](tr *Trainer, want string) (*Typed[N, C], error) {
	var n N
	u, ok := tr.Model.(interface{ Unbound() Net })
	if ok {
		n, ok = u.Unbound().(N)
	}
	c, cok := tr.Config.(C)
	if !ok || !cok {
		return nil, fmt.Errorf("a %s run, not %s", tr.Experiment.Name(), want)
	}
	return &Typed[N, C]{Trainer: tr, Model: n, Config: c}, nil
}

// NewTyped builds a trainer of ex with cfg, typed as View does.
func NewTyped[N Net, C Config](ex Experiment, cfg C) (*Typed[N, C], error) {
	tr, err := NewTrainer(ex, cfg)
	if err != nil {
		return nil, err
	}
	return View[N, C](tr, ex.Name())
}

// Preset is a named preset config of an experiment. New gets the values of
// the flags marked Preset, by name, as given on the command line.
type Preset struct {
	Name string
	New  func(args map[string]string) (Config, error)
}

// Fixed returns a preset that takes no arguments.
func Fixed[C any, PC interface {
	*C
	Config
}](name string, preset func() C) Preset {
	return Preset{Name: name, New: func(map[string]string) (Config, error) {
		c := preset()
		return PC(&c), nil
	}}
}

// FeedFuncs is a Feed made of functions.
type FeedFuncs struct {
	Steps      int
	BatchesOf  func(s int) [][]*tensor.Tensor
	PicturesAt func(m Moment) []string
	// Write writes the pictures named (by PicturesAt) into dir.
	Write func(dir string, names []string) error
}

func (f *FeedFuncs) StepsPerEpoch() int               { return f.Steps }
func (f *FeedFuncs) Batches(s int) [][]*tensor.Tensor { return f.BatchesOf(s) }
func (f *FeedFuncs) Pictures(m Moment) []string       { return f.PicturesAt(m) }
func (f *FeedFuncs) WritePictures(dir string, m Moment) error {
	return f.Write(dir, f.PicturesAt(m))
}

// FindPreset returns ex's preset of the given name.
func FindPreset(ex Experiment, name string) (Preset, error) {
	var names []string
	for _, p := range ex.Presets() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Preset{}, fmt.Errorf("--preset %q: want %s", name, strings.Join(names, " or "))
}

// SetFlag sets ex's flag --name on cfg to value, as the command line does:
// what a program or a test uses to configure a run by the flags' names.
func SetFlag(ex Experiment, cfg Config, name, value string) error {
	for _, f := range ex.Flags() {
		if f.Name == name {
			return f.Set(cfg, value)
		}
	}
	return fmt.Errorf("%s has no flag --%s", ex.Name(), name)
}

// SetFeed is the Feed of a fixed set of images (the first used of them):
// batch returns the images at idx; pictures and write are the
// experiment's (see Feed).
func SetFeed(s *Settings, used int, batch func(idx []int) *tensor.Tensor, pictures func(Moment) []string, write func(dir string, names []string) error) (Feed, error) {
	per, err := SetSteps(s, used)
	if err != nil {
		return nil, err
	}
	return &FeedFuncs{Steps: per, PicturesAt: pictures, Write: write,
		BatchesOf: func(st int) [][]*tensor.Tensor { return SetBatches(s, batch, used, st) }}, nil
}

// WeightFlags are --gamma, --lambda and --recon-weight, the weights every
// objective of the paper has (Eq. 8 and the WGAN-GP penalty).
func WeightFlags[C Config](gammaUsage, reconUsage string, weights func(C) (gamma, lambda, recon *float64)) []Flag {
	return []Flag{
		FloatFlag("gamma", gammaUsage, func(c C) *float64 { g, _, _ := weights(c); return g }),
		FloatFlag("lambda", "WGAN-GP penalty weight λ (default: from the preset; the paper's 1)", func(c C) *float64 { _, l, _ := weights(c); return l }),
		FloatFlag("recon-weight", reconUsage, func(c C) *float64 { _, _, r := weights(c); return r }),
	}
}
