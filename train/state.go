package train

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/optim"
	"github.com/wakesleep/wakesleep/tensor"
)

// Checkpoint layout. Tensors: "model.<parameter>" for every parameter,
// "buffer.<name>" for batch-norm statistics, "network.adam.{m,v}.<parameter>"
// and "critic.adam.{m,v}.<parameter>" for the optimizers. Metadata
// (strings): the config as JSON, the step, both optimizers' step counts and
// rates, the noise generator's state (math/rand/v2 PCG, base64 of
// MarshalBinary) and, for a Describer, the model's description as JSON.
const (
	metaConfig       = "wakesleep.config"
	metaStep         = "wakesleep.step"
	metaRNG          = "wakesleep.rng"
	metaNetStep      = "wakesleep.network.step"
	metaNetLR        = "wakesleep.network.lr"
	metaCriticStep   = "wakesleep.critic.step"
	metaCriticLR     = "wakesleep.critic.lr"
	metaFormat       = "wakesleep.format"
	checkpointFormat = "1"
	// MetaArchitecture holds the model's description (Describer), JSON;
	// checkpoints written before it existed lack it, and resume ignores it.
	MetaArchitecture = "wakesleep.architecture"
)

// State returns everything needed to resume: tensors and metadata.
func (t *Trainer) State() (map[string]*tensor.Tensor, map[string]string, error) {
	ts := map[string]*tensor.Tensor{}
	for _, p := range t.Model.Parameters() {
		ts["model."+p.Name] = p.V.Value
	}
	for _, b := range t.Model.Buffers() {
		ts["buffer."+b.Name] = b.T
	}
	for k, v := range t.Network.State() {
		ts["network."+k] = v
	}
	for k, v := range t.Critic.State() {
		ts["critic."+k] = v
	}
	meta, err := runMetadata(t.Config, t.Step, t.src, t.Network, t.Critic)
	if err != nil {
		return nil, nil, err
	}
	if d, ok := t.Experiment.(Describer); ok {
		desc, err := d.Describe(t)
		if err != nil {
			return nil, nil, fmt.Errorf("describe the model: %w", err)
		}
		b, err := json.Marshal(desc)
		if err != nil {
			return nil, nil, fmt.Errorf("describe the model: %w", err)
		}
		meta[MetaArchitecture] = string(b)
	}
	return ts, meta, nil
}

// Registry is the list of experiments a loader knows.
type Registry []Experiment

// UnknownExperimentError is an experiment name a registry lacks.
type UnknownExperimentError struct {
	Name      string
	Available []string
}

func (e *UnknownExperimentError) Error() string {
	return fmt.Sprintf("unknown experiment %q (available: %s)", e.Name, strings.Join(e.Available, ", "))
}

// Lookup returns the experiment of the given name, or an
// *UnknownExperimentError.
func (r Registry) Lookup(name string) (Experiment, error) {
	for _, ex := range r {
		if ex.Name() == name {
			return ex, nil
		}
	}
	return nil, &UnknownExperimentError{Name: name, Available: r.Names()}
}

// Names lists the experiments' names.
func (r Registry) Names() []string {
	names := make([]string, len(r))
	for i, ex := range r {
		names[i] = ex.Name()
	}
	return names
}

// LoadConfig reads a run's config.json, of whichever experiment it names.
func (r Registry) LoadConfig(path string) (Experiment, Config, error) {
	b, name, err := ReadConfigFile(path)
	if err != nil {
		return nil, nil, err
	}
	ex, err := r.Lookup(name)
	if err != nil {
		return nil, nil, fmt.Errorf("read config %q: %w", path, err)
	}
	cfg, err := DecodeConfig(ex, b, path)
	return ex, cfg, err
}

// ConfigFromMeta returns the experiment and config stored in a checkpoint's
// metadata.
func (r Registry) ConfigFromMeta(meta map[string]string) (Experiment, Config, error) {
	s, ok := meta[metaConfig]
	if !ok {
		return nil, nil, fmt.Errorf("checkpoint has no %s entry: not a wakesleep training checkpoint", metaConfig)
	}
	name, err := ExperimentOf([]byte(s))
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint config: %w", err)
	}
	ex, err := r.Lookup(name)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint config: %w", err)
	}
	cfg := ex.NewConfig()
	if err := DecodeStrict([]byte(s), cfg); err != nil {
		return nil, nil, fmt.Errorf("checkpoint config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("checkpoint config: %w", err)
	}
	return ex, cfg, nil
}

// Restore loads a checkpoint's state into t, which must have been built from
// the same config. Nothing is changed if anything is missing or mismatched.
func (t *Trainer) Restore(ts map[string]*tensor.Tensor, meta map[string]string) error {
	rm, err := parseRunMeta(meta)
	if err != nil {
		return err
	}
	if name := nonFinite(ts); name != "" {
		return fmt.Errorf("checkpoint tensor %q holds NaN or infinite values", name)
	}
	want := map[string]*tensor.Tensor{}
	var names []string
	for _, p := range t.Model.Parameters() {
		want["model."+p.Name] = p.V.Value
		names = append(names, "model."+p.Name)
	}
	for _, b := range t.Model.Buffers() {
		want["buffer."+b.Name] = b.T
		names = append(names, "buffer."+b.Name)
	}
	for _, k := range names {
		v, ok := ts[k]
		dst := want[k]
		switch {
		case !ok && strings.HasPrefix(k, "model."):
			return fmt.Errorf("checkpoint lacks parameter %q", strings.TrimPrefix(k, "model."))
		case !ok:
			return fmt.Errorf("checkpoint lacks %q", k)
		case !tensor.SameShape(v.Shape(), dst.Shape()) || v.DType() != dst.DType():
			return fmt.Errorf("checkpoint tensor %q is %s%v, model wants %s%v", k, v.DType(), v.Shape(), dst.DType(), dst.Shape())
		}
	}
	// Decode the random state into a copy, and load fresh optimizers that
	// are swapped in only when both loaded, so that a failure changes nothing.
	src := *t.src
	if err := src.UnmarshalBinary(rm.RNG); err != nil {
		return fmt.Errorf("checkpoint random state: %w", err)
	}
	net := optim.NewAdam(t.Network.Config, t.Network.Params)
	crit := optim.NewAdam(t.Critic.Config, t.Critic.Params)
	if err := net.LoadState(subState(ts, "network."), rm.NetStep, rm.NetLR); err != nil {
		return err
	}
	if err := crit.LoadState(subState(ts, "critic."), rm.CriticStep, rm.CriticLR); err != nil {
		return err
	}
	*t.Network, *t.Critic = *net, *crit
	for _, k := range names {
		want[k].CopyFrom(ts[k])
	}
	*t.src = src
	t.Step = rm.Step
	return nil
}

// nonFinite returns the name of a tensor of ts holding NaN or ±Inf (the
// first in sorted order), or "".
func nonFinite(ts map[string]*tensor.Tensor) string {
	names := make([]string, 0, len(ts))
	for k := range ts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if ts[k].HasNaNOrInf() {
			return k
		}
	}
	return ""
}

// Open rebuilds a trainer from a checkpoint file, or from the newest good
// checkpoint of a run folder, of whichever experiment of r it holds. It
// returns the file it read. A warning about skipped corrupt checkpoints goes
// to warn (nil: discarded).
func (r Registry) Open(path string, warn io.Writer) (*Trainer, string, error) {
	if warn == nil {
		warn = io.Discard
	}
	if st, err := os.Stat(path); err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: %w", path, err)
	} else if st.IsDir() {
		p, err := latestCheckpoint(path, warn)
		if err != nil {
			return nil, "", fmt.Errorf("run folder %s: %w", path, err)
		}
		path = p
	}
	ts, meta, err := checkpoint.Load(path)
	if err != nil {
		return nil, "", err
	}
	ex, cfg, err := r.ConfigFromMeta(meta)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	tr, err := NewTrainer(ex, cfg)
	if err != nil {
		return nil, "", err
	}
	if err := tr.Restore(ts, meta); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return tr, path, nil
}

// latestCheckpoint returns the newest checkpoint of a run folder that loads
// and verifies. If newer ones are corrupt (a crash mid-write on a filesystem
// without atomic rename, a damaged disk) it says so on w and uses the newest
// good one.
func latestCheckpoint(dir string, w io.Writer) (string, error) {
	path, _, err := latestGood(dir)
	var fb *checkpoint.FallbackError
	if errors.As(err, &fb) {
		fmt.Fprintf(w, "warning: %v\n", fb)
		return path, nil
	}
	return path, err
}

// latestGood is checkpoint.Latest over a run folder's checkpoints, skipping
// (as corrupt) those holding a NaN or Inf: a checkpoint written by another
// build, or edited, whose checksum is right but which no run can continue.
func latestGood(dir string) (string, int, error) {
	return checkpoint.LatestAccepted(dir, CheckpointPrefix, func(path string, f *checkpoint.File) error {
		if name := nonFinite(f.Tensors); name != "" {
			return fmt.Errorf("%s: tensor %q holds NaN or infinite values", path, name)
		}
		if _, err := parseRunMeta(f.Meta); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// runMeta is the metadata every trainer's checkpoint carries besides its
// config: step counts, learning rates and the noise generator's state.
type runMeta struct {
	Step, NetStep, CriticStep int
	NetLR, CriticLR           float64
	RNG                       []byte // math/rand/v2 PCG, MarshalBinary
}

// runMetadata encodes a trainer's config and run state as checkpoint metadata.
func runMetadata(cfg any, step int, src *rand.PCG, net, critic *optim.Adam) (map[string]string, error) {
	c, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	rng, err := src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return map[string]string{
		metaFormat:     checkpointFormat,
		metaConfig:     string(c),
		metaStep:       strconv.Itoa(step),
		metaRNG:        base64.StdEncoding.EncodeToString(rng),
		metaNetStep:    strconv.Itoa(net.Step),
		metaNetLR:      strconv.FormatFloat(net.LearningRate(), 'g', -1, 64),
		metaCriticStep: strconv.Itoa(critic.Step),
		metaCriticLR:   strconv.FormatFloat(critic.LearningRate(), 'g', -1, 64),
	}, nil
}

// parseRunMeta reads and checks the run state runMetadata wrote.
func parseRunMeta(meta map[string]string) (runMeta, error) {
	var rm runMeta
	if f := meta[metaFormat]; f != checkpointFormat {
		return rm, fmt.Errorf("checkpoint format %q, this build reads %q", f, checkpointFormat)
	}
	for _, f := range []struct {
		k   string
		dst *int
	}{{metaStep, &rm.Step}, {metaNetStep, &rm.NetStep}, {metaCriticStep, &rm.CriticStep}} {
		k, dst := f.k, f.dst
		v, err := strconv.Atoi(meta[k])
		if err != nil || v < 0 {
			return rm, fmt.Errorf("checkpoint metadata %s = %q is not a step count", k, meta[k])
		}
		*dst = v
	}
	for _, f := range []struct {
		k   string
		dst *float64
	}{{metaNetLR, &rm.NetLR}, {metaCriticLR, &rm.CriticLR}} {
		k, dst := f.k, f.dst
		v, err := strconv.ParseFloat(meta[k], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return rm, fmt.Errorf("checkpoint metadata %s = %q is not a finite learning rate", k, meta[k])
		}
		*dst = v
	}
	rng, err := base64.StdEncoding.DecodeString(meta[metaRNG])
	if err != nil {
		return rm, fmt.Errorf("checkpoint metadata %s: %w", metaRNG, err)
	}
	rm.RNG = rng
	return rm, nil
}

// subState returns the tensors of ts under prefix, with the prefix removed
// (one optimizer's state out of a checkpoint holding several).
func subState(ts map[string]*tensor.Tensor, prefix string) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for k, v := range ts {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			out[k[len(prefix):]] = v
		}
	}
	return out
}
