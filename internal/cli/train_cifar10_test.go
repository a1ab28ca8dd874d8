package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/data/cifar10"
)

// writeFakeBatches writes the six official binary batches with n records
// each of mid-gray images into dir.
func writeFakeBatches(t *testing.T, dir string, n int) {
	t.Helper()
	rec := bytes.Repeat([]byte{128}, cifar10.RecordBytes)
	for _, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		var b []byte
		for i := 0; i < n; i++ {
			rec[0] = byte(i % 10)
			rec[1+i] = byte(i * 37)
			b = append(b, rec...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTrainCIFAR10Command(t *testing.T) {
	data, run := t.TempDir(), filepath.Join(t.TempDir(), "run")
	writeFakeBatches(t, data, 4)
	var stdout, stderr bytes.Buffer
	// The experiment's name may stand anywhere on the line.
	args := []string{"--data", data, "--run", run, "--batch-size", "4", "--max-steps", "2", "cifar10", "--epochs", "1",
		"--channels", "2,2,2,2,2", "--critic-channels", "1,1,1,1,1,1", "--log-every", "1"}
	if err := runTrain(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, f := range []string{"config.json", "metrics.csv", "samples-epoch001.png", "recon-epoch001.png", "ckpt-00000002.safetensors"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
	// Resume to more steps: only the length may change. The run folder says
	// which experiment it holds.
	err := runTrain(context.Background(), []string{"--run", run, "--resume", "--data", data, "--max-steps", "3"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run, "ckpt-00000003.safetensors")); err != nil {
		t.Error("resume did not reach step 3")
	}
}

func TestTrainCIFAR10UsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--preset", "huge"}, `--preset "huge"`},
		{[]string{"--channels", "32,x"}, "--channels"},
		{[]string{"--critic-channels", "1,2"}, "critic widths"},
		{[]string{"--out-kernel", "5"}, "out kernel 5"},
		{[]string{"--top-activation", "tanh"}, "top activation"},
		{[]string{"--init-std", "-0.5"}, "init std"},
		{[]string{"--resume"}, "--resume needs --run"},
		{[]string{"--resume", "--run", "x", "--gamma", "0.1"}, "--gamma cannot change"},
		{[]string{"mnist"}, "too many arguments"},
		{[]string{"--max-steps", "-1"}, "--max-steps"},
		{[]string{"--silence-channels", "0,x"}, "--silence-channels"},
		{[]string{"--silence-layer", "5", "--silence-channels", "0"}, "must be a hidden layer, 1 to 4"},
		{[]string{"--silence-layer", "2", "--silence-channels", "64"}, "channel 64 is outside layer 2's channels 0..63"},
		{[]string{"--silence-layer", "2", "--silence-channels", "0,1", "--sham-channels", "1"}, "channel 1 of layer 2 is both silenced and shammed"},
		{[]string{"--sham-channels", "1"}, "need a layer (--silence-layer)"},
		{[]string{"--silence-z", "1"}, "silence-z"},
	} {
		var ue *usageError
		err := runTrain(context.Background(), append([]string{"cifar10"}, tc.args...), &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: error %v, want a usage error with %q", tc.args, err, tc.msg)
		}
	}
}
