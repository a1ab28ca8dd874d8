package cifar10

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/train"
)

// A smoke run of the whole experiment on tiny sizes writes every picture
// and finite metrics for every layer.
func TestSmokeRun(t *testing.T) {
	dir := t.TempDir()
	err := train.Run(context.Background(), Experiment, Experiment.TinyConfig(), train.RunOptions{Dir: dir, Data: Experiment.FakeData()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"samples-epoch001.png", "recon-epoch001.png", "recon-mean-epoch001.png", "recon1-epoch001.png", "samples-epoch002.png", "recon-epoch002.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	f, err := os.Open(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+8 {
		t.Fatalf("%d metric rows, want a header and 8", len(rows))
	}
	head := strings.Join(rows[0], ",")
	for _, col := range []string{"critic_x/ws", "critic_z5/osc", "critic_z3/gp", "net/recon_x", "net/recon_z4", "net/osc_z5", "net/loss"} {
		if !strings.Contains(head, col) {
			t.Errorf("metrics lack column %s: %s", col, head)
		}
	}
	for _, r := range rows[1:] {
		for j, v := range r {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f != f {
				t.Fatalf("column %s = %q", rows[0][j], v)
			}
		}
	}
}

func TestRunRefusals(t *testing.T) {
	ctx := context.Background()
	cfg := Experiment.TinyConfig().(*Config)
	// Resume of a folder with no run.
	if err := train.Run(ctx, Experiment, cfg, train.RunOptions{Dir: t.TempDir(), Resume: true, Data: Experiment.FakeData()}); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
		t.Errorf("resume of an empty folder: %v", err)
	}
	// Too few images for a batch.
	cfg.BatchSize = 17
	if err := train.Run(ctx, Experiment, cfg, train.RunOptions{Dir: t.TempDir(), Data: Experiment.FakeData()}); err == nil || !strings.Contains(err.Error(), "exceeds the 16 training images") {
		t.Errorf("small set: %v", err)
	}
	// A folder holding an MNIST run is not resumed as CIFAR-10.
	dir := t.TempDir()
	m := mnist.QuickConfig(model.CriticLocal)
	if err := train.SaveConfig(filepath.Join(dir, train.ConfigFile), &m); err != nil {
		t.Fatal(err)
	}
	if err := train.Run(ctx, Experiment, cfg, train.RunOptions{Dir: dir, Resume: true, Data: Experiment.FakeData()}); err == nil || !strings.Contains(err.Error(), `holds another experiment: a "mnist" run`) {
		t.Errorf("mnist folder: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := PaperConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Config){
		"image size": func(c *Config) { c.Model.ImageSize = 64 },
		"scale":      func(c *Config) { c.PixelScale = "bytes" },
		"gamma":      func(c *Config) { c.Objective.Gamma = 2 },
		"batch":      func(c *Config) { c.BatchSize = 0 },
		"pictures":   func(c *Config) { c.PictureEvery = -1 },
	} {
		c := PaperConfig()
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// --silence-layer, --silence-channels and --sham-channels reach the
// objective and config.json, bad values are refused with the flag or the
// field named, the presets have none, and a tiny silenced and shammed run
// trains.
func TestSilenceFlags(t *testing.T) {
	set := func(c *Config, name, v string) error { return train.SetFlag(Experiment, c, name, v) }
	c := Experiment.TinyConfig().(*Config)
	for flag, v := range map[string]string{"silence-channels": "0,x", "sham-channels": "-1"} {
		if err := set(c, flag, v); err == nil || !strings.Contains(err.Error(), "--"+flag) {
			t.Errorf("--%s %s: %v", flag, v, err)
		}
	}
	if err := set(c, "silence-channels", "1,1"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a channel twice: %v", err)
	}
	for _, kv := range [][2]string{{"silence-layer", "2"}, {"silence-channels", "0, 3"}, {"sham-channels", "1"}} {
		if err := set(c, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := train.EncodeConfig(c)
	if err != nil || !strings.Contains(string(b), `"silence_layer": 2`) || !strings.Contains(string(b), `"sham_channels": [`) {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	back, err := train.DecodeConfig(Experiment, b, "test")
	if err != nil {
		t.Fatal(err)
	}
	if o := back.(*Config).Objective; o.SilenceLayer != 2 || !reflect.DeepEqual(o.SilenceChannels, []int{0, 3}) || !reflect.DeepEqual(o.ShamChannels, []int{1}) {
		t.Errorf("after config.json: %+v", o)
	}
	for name, tc := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"top layer":      {func(c *Config) { c.Objective.SilenceLayer = 5 }, "1 to 4"},
		"image":          {func(c *Config) { c.Objective.SilenceLayer = -1 }, "silence layer -1"},
		"no layer":       {func(c *Config) { c.Objective.SilenceLayer = 0 }, "need a layer"},
		"channel":        {func(c *Config) { c.Objective.SilenceChannels = []int{4} }, "outside layer 2's channels 0..3"},
		"both":           {func(c *Config) { c.Objective.ShamChannels = []int{3} }, "both silenced and shammed"},
		"no channels":    {func(c *Config) { c.Objective.SilenceChannels, c.Objective.ShamChannels = nil, nil }, "no silenced or sham channels"},
		"mnist's units":  {func(c *Config) { c.Objective.SilenceSleepZ = []int{0} }, "for the MNIST model"},
		"mnist's layers": {nil, "for the hierarchical CIFAR-10 model"},
	} {
		if tc.edit == nil {
			m := mnist.QuickConfig(model.CriticLocal)
			m.Objective.SilenceLayer, m.Objective.SilenceChannels = 1, []int{0}
			if err := m.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", name, err, tc.want)
			}
			continue
		}
		d := *back.(*Config)
		d.Objective.SilenceChannels = slices.Clone(d.Objective.SilenceChannels)
		tc.edit(&d)
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	for _, p := range []Config{QuickConfig(), PaperConfig(), *Experiment.TinyConfig().(*Config)} {
		if b, _ := train.EncodeConfig(&p); strings.Contains(string(b), "silence") || strings.Contains(string(b), "sham") {
			t.Errorf("a preset silences or shams:\n%s", b)
		}
	}
	c.Epochs = 1
	if err := train.Run(context.Background(), Experiment, c, train.RunOptions{Dir: t.TempDir(), Data: Experiment.FakeData(), MaxSteps: 2}); err != nil {
		t.Fatal(err)
	}
}
