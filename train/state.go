package train

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/tensor"
)

// Checkpoint layout. Tensors: "model.<parameter>" for every parameter,
// "network.adam.{m,v}.<parameter>" and "critic.adam.{m,v}.<parameter>" for the
// optimizers. Metadata (strings): the config as JSON, the step, both
// optimizers' step counts and rates, and the noise generator's state
// (math/rand/v2 PCG, base64 of MarshalBinary).
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
)

// State returns everything needed to resume: tensors and metadata.
func (t *Trainer) State() (map[string]*tensor.Tensor, map[string]string, error) {
	ts := map[string]*tensor.Tensor{}
	for _, p := range t.Model.Parameters() {
		ts["model."+p.Name] = p.V.Value
	}
	for k, v := range t.Network.State() {
		ts["network."+k] = v
	}
	for k, v := range t.Critic.State() {
		ts["critic."+k] = v
	}
	cfg, err := json.Marshal(t.Config)
	if err != nil {
		return nil, nil, err
	}
	rng, err := t.src.MarshalBinary()
	if err != nil {
		return nil, nil, err
	}
	meta := map[string]string{
		metaFormat:     checkpointFormat,
		metaConfig:     string(cfg),
		metaStep:       strconv.Itoa(t.Step),
		metaRNG:        base64.StdEncoding.EncodeToString(rng),
		metaNetStep:    strconv.Itoa(t.Network.Step),
		metaNetLR:      strconv.FormatFloat(t.Network.LearningRate(), 'g', -1, 64),
		metaCriticStep: strconv.Itoa(t.Critic.Step),
		metaCriticLR:   strconv.FormatFloat(t.Critic.LearningRate(), 'g', -1, 64),
	}
	return ts, meta, nil
}

// ConfigFromMeta returns the config stored in a checkpoint's metadata.
func ConfigFromMeta(meta map[string]string) (Config, error) {
	var c Config
	s, ok := meta[metaConfig]
	if !ok {
		return c, fmt.Errorf("checkpoint has no %s entry: not a wakesleep training checkpoint", metaConfig)
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("checkpoint config: %w", err)
	}
	return c, c.Validate()
}

// Restore loads a checkpoint's state into t, which must have been built from
// the same config. Nothing is changed if anything is missing or mismatched.
func (t *Trainer) Restore(ts map[string]*tensor.Tensor, meta map[string]string) error {
	if f := meta[metaFormat]; f != checkpointFormat {
		return fmt.Errorf("checkpoint format %q, this build reads %q", f, checkpointFormat)
	}
	ints := map[string]int{}
	for _, k := range []string{metaStep, metaNetStep, metaCriticStep} {
		v, err := strconv.Atoi(meta[k])
		if err != nil || v < 0 {
			return fmt.Errorf("checkpoint metadata %s = %q is not a step count", k, meta[k])
		}
		ints[k] = v
	}
	floats := map[string]float64{}
	for _, k := range []string{metaNetLR, metaCriticLR} {
		v, err := strconv.ParseFloat(meta[k], 64)
		if err != nil {
			return fmt.Errorf("checkpoint metadata %s = %q is not a number", k, meta[k])
		}
		floats[k] = v
	}
	rng, err := base64.StdEncoding.DecodeString(meta[metaRNG])
	if err != nil {
		return fmt.Errorf("checkpoint metadata %s: %w", metaRNG, err)
	}
	if name := nonFinite(ts); name != "" {
		return fmt.Errorf("checkpoint tensor %q holds NaN or infinite values", name)
	}
	params := t.Model.Parameters()
	for _, p := range params {
		v, ok := ts["model."+p.Name]
		switch {
		case !ok:
			return fmt.Errorf("checkpoint lacks parameter %q", p.Name)
		case !tensor.SameShape(v.Shape(), p.V.Shape()) || v.DType() != p.V.DType():
			return fmt.Errorf("checkpoint parameter %q is %s%v, model wants %s%v", p.Name, v.DType(), v.Shape(), p.V.DType(), p.V.Shape())
		}
	}
	sub := func(prefix string) map[string]*tensor.Tensor {
		out := map[string]*tensor.Tensor{}
		for k, v := range ts {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				out[k[len(prefix):]] = v
			}
		}
		return out
	}
	// Decode the random state into a copy, and keep the network optimizer's
	// state until the critic's has loaded, so that a failure changes nothing.
	src := *t.src
	if err := src.UnmarshalBinary(rng); err != nil {
		return fmt.Errorf("checkpoint random state: %w", err)
	}
	netBefore, netStep, netLR := t.Network.State(), t.Network.Step, t.Network.LearningRate()
	if err := t.Network.LoadState(sub("network."), ints[metaNetStep], floats[metaNetLR]); err != nil {
		return err
	}
	if err := t.Critic.LoadState(sub("critic."), ints[metaCriticStep], floats[metaCriticLR]); err != nil {
		if rerr := t.Network.LoadState(netBefore, netStep, netLR); rerr != nil {
			panic("train: restoring the network optimizer's own state failed: " + rerr.Error())
		}
		return err
	}
	for _, p := range params {
		p.V.Value.CopyFrom(ts["model."+p.Name])
	}
	*t.src = src
	t.Step = ints[metaStep]
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

// LoadTrainer rebuilds a trainer from a checkpoint file, or from the newest
// good checkpoint of a run folder. It returns the file it read. A warning
// about skipped corrupt checkpoints goes to os.Stderr; see LoadTrainerWarn.
func LoadTrainer(path string) (*Trainer, string, error) {
	return LoadTrainerWarn(path, os.Stderr)
}

// LoadTrainerWarn is LoadTrainer with the fallback warning written to warn.
func LoadTrainerWarn(path string, warn io.Writer) (*Trainer, string, error) {
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
	cfg, err := ConfigFromMeta(meta)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	tr, err := NewTrainer(cfg)
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
	path, _, err := checkpoint.Latest(dir, CheckpointPrefix)
	var fb *checkpoint.FallbackError
	if errors.As(err, &fb) {
		fmt.Fprintf(w, "warning: %v\n", fb)
		return path, nil
	}
	return path, err
}
