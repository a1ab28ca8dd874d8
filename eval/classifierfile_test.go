package eval

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/checkpoint"
	"github.com/wakesleep/wakesleep/tensor"
)

// TestClassifierFileTensorChecks checks the shared file layout of both
// classifiers: a saved file loads back tensor for tensor, buffers included,
// and a file missing a parameter or buffer, or holding one of the wrong
// shape, is refused with an error that names it.
func TestClassifierFileTensorChecks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	mcfg := DefaultClassifierConfig()
	mcfg.Hidden = []int{3}
	m, err := NewClassifier(mcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := DefaultCIFARClassifierConfig()
	ccfg.Channels = []int{2}
	c, err := NewCIFARClassifier(ccfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	c.Norms[0].RunningMean.SetAt(1, 0.25) // a buffer that differs from a fresh one
	mpath, cpath := filepath.Join(dir, "m.safetensors"), filepath.Join(dir, "c.safetensors")
	if err := SaveClassifier(mpath, m, 0.5, "m"); err != nil {
		t.Fatal(err)
	}
	if err := SaveCIFARClassifier(cpath, c, 0.25, "c"); err != nil {
		t.Fatal(err)
	}
	m2, info, err := LoadClassifier(mpath)
	if err != nil || info.Command != "m" || info.TestAccuracy != 0.5 || info.Source != mpath {
		t.Fatalf("LoadClassifier: %v, %+v", err, info)
	}
	for i, p := range m2.Parameters() {
		if !sameTensor(p.V.Value, m.Parameters()[i].V.Value) {
			t.Errorf("MNIST %s differs after loading", p.Name)
		}
	}
	c2, info, err := LoadCIFARClassifier(cpath)
	if err != nil || info.Command != "c" || info.TestAccuracy != 0.25 {
		t.Fatalf("LoadCIFARClassifier: %v, %+v", err, info)
	}
	for i, b := range c2.Buffers() {
		if !sameTensor(b.T, c.Buffers()[i].T) {
			t.Errorf("CIFAR-10 %s differs after loading", b.Name)
		}
	}

	// edit rewrites the file at path with one tensor changed (nil: dropped).
	edit := func(path, name string, v *tensor.Tensor) string {
		ts, meta, err := checkpoint.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			delete(ts, name)
		} else {
			ts[name] = v
		}
		out := filepath.Join(dir, "edited-"+name+"-"+filepath.Base(path))
		if err := checkpoint.Save(out, ts, meta); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		load func(string) error
		path string
		want string
	}{
		{"mnist missing", loadMNIST, edit(mpath, "fc2.bias", nil), `lacks tensor "fc2.bias"`},
		{"mnist shape", loadMNIST, edit(mpath, "fc1.weight", tensor.New(tensor.Float32, 2, 2)), `tensor "fc1.weight" is [2 2], want [3 784]`},
		{"cifar buffer missing", loadCIFAR, edit(cpath, "bn1.running_var", nil), `lacks tensor "bn1.running_var"`},
		{"cifar buffer shape", loadCIFAR, edit(cpath, "bn1.running_mean", tensor.New(tensor.Float32, 3)), `tensor "bn1.running_mean" is [3], want [2]`},
	} {
		err := tc.load(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: error %v, want one naming %q and the file", tc.name, err, tc.want)
		}
	}
}

func loadMNIST(path string) error { _, _, err := LoadClassifier(path); return err }
func loadCIFAR(path string) error { _, _, err := LoadCIFARClassifier(path); return err }
