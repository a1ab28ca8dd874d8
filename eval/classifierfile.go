package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
)

// The classifier files (the MNIST MLP and the CIFAR-10 convnet) share one
// layout: safetensors holding the named parameters and buffers, and metadata
// holding the config as JSON under a key of the classifier's own, the test
// accuracy and the command that made the file. The helpers below read and
// write that layout; each classifier names its config key and builds itself.

// classifierDecoder builds a classifier from a file's tensors and metadata.
type classifierDecoder[C any] func(ts map[string]*tensor.Tensor, meta map[string]string) (C, ClassifierInfo, error)

// saveClassifierFile writes the parameters ps and buffers bs to path with
// cfg as JSON under configKey, the test accuracy (4 decimals) and command.
func saveClassifierFile(path string, ps []*nn.Parameter, bs []*nn.Buffer, configKey string, cfg any, testAccuracy float64, command string) error {
	ts := map[string]*tensor.Tensor{}
	for _, p := range ps {
		ts[p.Name] = p.V.Value
	}
	for _, b := range bs {
		ts[b.Name] = b.T
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return checkpoint.Save(path, ts, map[string]string{
		configKey:              string(js),
		metaClassifierAccuracy: strconv.FormatFloat(testAccuracy, 'f', 4, 64),
		metaClassifierCommand:  command,
	})
}

// readClassifierMeta decodes the config under configKey into cfg (a
// pointer) and returns the recorded accuracy and command. A file without
// the key is "not a wakesleep <kind>".
func readClassifierMeta(meta map[string]string, configKey, kind string, cfg any) (ClassifierInfo, error) {
	var info ClassifierInfo
	s, ok := meta[configKey]
	if !ok {
		return info, fmt.Errorf("no %s metadata: not a wakesleep %s", configKey, kind)
	}
	if err := json.Unmarshal([]byte(s), cfg); err != nil {
		return info, fmt.Errorf("config: %w", err)
	}
	info.TestAccuracy, _ = strconv.ParseFloat(meta[metaClassifierAccuracy], 64)
	info.Command = meta[metaClassifierCommand]
	return info, nil
}

// copyClassifierTensors copies ts into the parameters ps, then the buffers
// bs, as float32; each must be present with the destination's shape.
func copyClassifierTensors(ts map[string]*tensor.Tensor, ps []*nn.Parameter, bs []*nn.Buffer) error {
	copyOne := func(name string, d *tensor.Tensor) error {
		v, ok := ts[name]
		switch {
		case !ok:
			return fmt.Errorf("lacks tensor %q", name)
		case !tensor.SameShape(v.Shape(), d.Shape()):
			return fmt.Errorf("tensor %q is %v, want %v", name, v.Shape(), d.Shape())
		}
		d.CopyFrom(v.AsType(tensor.Float32))
		return nil
	}
	for _, p := range ps {
		if err := copyOne(p.Name, p.V.Value); err != nil {
			return err
		}
	}
	for _, b := range bs {
		if err := copyOne(b.Name, b.T); err != nil {
			return err
		}
	}
	return nil
}

// loadClassifierFile reads the classifier file at path through decode;
// errors from decoding are prefixed with label and the path.
func loadClassifierFile[C any](path, label string, decode classifierDecoder[C]) (C, ClassifierInfo, error) {
	var none C
	ts, meta, err := checkpoint.Load(path)
	if err != nil {
		return none, ClassifierInfo{}, err
	}
	c, info, err := decode(ts, meta)
	if err != nil {
		return none, info, fmt.Errorf("%s %q: %w", label, path, err)
	}
	info.Source = path
	return c, info, nil
}

// embeddedClassifier reads the classifier file eval/files/<name> embedded in
// the binary through decode, or returns missing if the build lacks it.
func embeddedClassifier[C any](name string, missing error, decode classifierDecoder[C]) (C, ClassifierInfo, error) {
	var none C
	b, err := fs.ReadFile(embedded, "files/"+name)
	if errors.Is(err, fs.ErrNotExist) {
		return none, ClassifierInfo{}, missing
	} else if err != nil {
		return none, ClassifierInfo{}, err
	}
	f, err := checkpoint.Decode(b)
	if err != nil {
		return none, ClassifierInfo{}, fmt.Errorf("embedded classifier %s: %w", name, err)
	}
	c, info, err := decode(f.Tensors, f.Meta)
	if err != nil {
		return none, info, fmt.Errorf("embedded classifier %s: %w", name, err)
	}
	info.Source = "embedded eval/files/" + name
	return c, info, nil
}
