package cifar10

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
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
