package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/eval"
	"github.com/wakesleep/wakesleep/train"
)

// TestTrainMovingMNISTAndPredict trains a one-step Moving MNIST run with
// tiny layers through the command line, then predicts and evaluates from it.
func TestTrainMovingMNISTAndPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses MNIST")
	}
	dir := filepath.Join(t.TempDir(), "mm")
	var stdout, stderr bytes.Buffer
	args := []string{"movingmnist", "--patch", "8", "--hidden", "2", "--kernel", "1", "--critic-channels", "1",
		"--batch-size", "2", "--sequences-per-epoch", "2", "--epochs", "1", "--pictures", "1", "--run", dir}
	if err := runTrain(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr.String())
	}
	for _, f := range []string{train.ConfigFile, "ckpt-00000001.safetensors", "predict-step00000001.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("train wrote no %s", f)
		}
	}
	stdout.Reset()
	if code := Main([]string{"predict", "--checkpoint", dir, "--n", "2", "--eval", "--eval-n", "3", "--batch", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("predict exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"predict.png", "predict.gif", "eval/" + eval.PredictionReportFile, "eval/" + eval.PredictionResultFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("predict wrote no %s", f)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "eval", eval.PredictionResultFile))
	if err != nil {
		t.Fatal(err)
	}
	var r eval.PredictionEval
	if err := json.Unmarshal(b, &r); err != nil || r.N != 3 || len(r.Model.MSE) != 10 || r.Step != 1 {
		t.Errorf("prediction.json: %+v (%v)", r, err)
	}
	if !strings.Contains(stdout.String(), "repeat last frame") {
		t.Errorf("predict printed no scores:\n%s", stdout.String())
	}
}

func TestPredictAndTrainMovingMNISTUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"predict without checkpoint", func() error { return runPredict(context.Background(), nil, &bytes.Buffer{}, &bytes.Buffer{}) }},
		{"predict bad n", func() error {
			return runPredict(context.Background(), []string{"--checkpoint", "x", "--n", "0"}, &bytes.Buffer{}, &bytes.Buffer{})
		}},
		{"train bad preset", func() error {
			return runTrain(context.Background(), []string{"movingmnist", "--preset", "huge"}, &bytes.Buffer{}, &bytes.Buffer{})
		}},
		{"train resume without run", func() error {
			return runTrain(context.Background(), []string{"movingmnist", "--resume"}, &bytes.Buffer{}, &bytes.Buffer{})
		}},
		{"train resume changing a setting", func() error {
			return runTrain(context.Background(), []string{"--resume", "--run", "x", "movingmnist", "--gamma", "0.1"}, &bytes.Buffer{}, &bytes.Buffer{})
		}},
		{"train invalid config", func() error {
			return runTrain(context.Background(), []string{"--kernel", "4", "movingmnist"}, &bytes.Buffer{}, &bytes.Buffer{})
		}},
		{"train extra argument", func() error {
			return runTrain(context.Background(), []string{"movingmnist", "cifar"}, &bytes.Buffer{}, &bytes.Buffer{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ue *usageError
			if err := tc.run(); !errors.As(err, &ue) {
				t.Errorf("got %v, want a usage error", err)
			}
		})
	}
}
