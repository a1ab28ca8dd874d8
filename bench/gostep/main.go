// Command gostep times one wakesleep training step (train.Trainer.TrainStep)
// for the comparison with PyTorch in bench/compare.py.
//
//	go run ./bench/gostep -model mnist-global -steps 10
//	go run -tags openblas ./bench/gostep -model cifar10 -preset quick -steps 3 -cpuprofile cpu.pprof
//	go run ./bench/gostep -model movingmnist -print-config    # the config.json bench/torch_steps.py mirrors
//	go run ./bench/gostep -sgemm 2048                          # the sgemm rate of tensor.MatMul
//
// It builds an experiment's trainer from its preset (-preset paper or quick:
// the experiment package's PaperConfig or QuickConfig; -batch overrides the
// batch size), runs -warmup untimed steps, then -steps timed ones on a fixed
// random batch, and prints one JSON object: the per-step times and CPU times
// in milliseconds, their medians, the peak resident memory (VmHWM of
// /proc/self/status) in MiB, the parameter counts, and the floating-point
// operations of the matrix products of one step (blas.Flops32, which counts
// what every float32 product and convolution asks of sgemm).
//
// Models:
//
//	mnist-global    global critic on (x, z), Eq. 4 (γ = 1), Fig. 3B
//	mnist-local     local critics D_x, D_z, Eq. 7 plus L_RECON (γ = 0)
//	mnist-combined  local critics, Eq. 8 with γ = 0.1, Fig. 3C
//	cifar10         the hierarchical model of Fig. 4, six critics, Eq. 8 (γ = 0.5)
//	movingmnist     ConvLSTM encoder and decoder, critics D_x and D_z, 10 + 10 frames, 10 sleep steps
//
// For MNIST the architecture and objective are the paper's whatever the
// preset (the quick preset's learning rates and initialisation do not change
// the work; its L_RECON over every critic layer does, and is not used here,
// as bench/torch_mnist.py mirrors the paper's). (The old -algo global|local|combined still works.)
//
// Threads: GOMAXPROCS as the environment sets it; OpenBLAS's thread count,
// as the wakesleep command sets it (internal/cli): GOMAXPROCS unless
// OPENBLAS_NUM_THREADS is set.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wakesleep/wakesleep/blas"
	"github.com/wakesleep/wakesleep/experiment/cifar10"
	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/experiment/movingmnist"
	"github.com/wakesleep/wakesleep/internal/gcpolicy"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/nn"
	"github.com/wakesleep/wakesleep/tensor"
	"github.com/wakesleep/wakesleep/train"
)

type result struct {
	Impl        string    `json:"impl"`
	Model       string    `json:"model"`
	Preset      string    `json:"preset"`
	Batch       int       `json:"batch"`
	Procs       int       `json:"gomaxprocs"`
	BLASThreads int       `json:"blas_threads"`
	BLASCore    string    `json:"blas_core,omitempty"` // OpenBLAS's kernel family (blas.CoreName)
	TimesMS     []float64 `json:"times_ms"`
	CPUMS       []float64 `json:"cpu_ms"` // user+system CPU time of the process per step
	MedianMS    float64   `json:"median_ms"`
	CPUMedMS    float64   `json:"median_cpu_ms"`
	PeakMiB     float64   `json:"peak_rss_mib"`
	NetParams   int       `json:"network_params"`
	CritParams  int       `json:"critic_params"`
	GemmFlops   int64     `json:"gemm_flops_per_step"` // 2·m·n·k of every float32 product of a timed step (blas.Flops32)
}

// bench is one experiment's trainer and a fixed batch for it.
type bench struct {
	tr    *train.Trainer
	xs    [][]*tensor.Tensor
	cfg   any // the experiment's Config, as config.json holds it
	batch int
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "gostep:", err)
	os.Exit(code)
}

func main() {
	name := flag.String("model", "", "mnist-global, mnist-local, mnist-combined, cifar10 or movingmnist")
	algo := flag.String("algo", "", "old name of -model for MNIST: global, local or combined")
	preset := flag.String("preset", "paper", "paper or quick: the experiment's PaperConfig or QuickConfig")
	batch := flag.Int("batch", 0, "batch size (0: the preset's)")
	warmup := flag.Int("warmup", 2, "untimed steps first")
	steps := flag.Int("steps", 10, "timed steps")
	printConfig := flag.Bool("print-config", false, "print the config (as config.json holds it) and exit")
	sgemm := flag.Int("sgemm", 0, "time tensor.MatMul of two N×N matrices instead of a training step")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile to this file at the end")
	flag.Parse()
	gcpolicy.Apply() // as cmd/wakesleep: the step is timed as users run it

	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		blas.SetThreads(runtime.GOMAXPROCS(0)) // as the wakesleep command does
	}
	if *sgemm > 0 {
		timeSgemm(*sgemm, *warmup, *steps)
		return
	}
	if *name == "" && *algo != "" {
		*name = "mnist-" + *algo
	}
	if *name == "" {
		*name = "mnist-global"
	}
	if *batch < 0 || *warmup < 0 || *steps < 1 {
		fail(2, fmt.Errorf("-batch %d, -warmup %d, -steps %d: need batch ≥ 0, warmup ≥ 0, steps ≥ 1", *batch, *warmup, *steps))
	}
	b, err := build(*name, *preset, *batch)
	if err != nil {
		fail(2, err)
	}
	if *printConfig {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", " ")
		if err := enc.Encode(b.cfg); err != nil {
			fail(1, err)
		}
		return
	}
	step := func() {
		if _, err := b.tr.TrainStep(b.xs); err != nil {
			fail(1, err)
		}
	}
	for i := 0; i < *warmup; i++ {
		step()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(1, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(1, err)
		}
	}
	res := result{Impl: "go " + blas.Implementation, BLASCore: blas.CoreName(), Model: *name, Preset: *preset, Batch: b.batch,
		Procs: runtime.GOMAXPROCS(0), BLASThreads: blas.Threads(),
		NetParams: count(b.tr.Network.Params), CritParams: count(b.tr.Critic.Params)}
	f0 := blas.Flops32()
	for i := 0; i < *steps; i++ {
		c0, t0 := cpuTime(), time.Now()
		step()
		res.TimesMS = append(res.TimesMS, float64(time.Since(t0).Microseconds())/1e3)
		res.CPUMS = append(res.CPUMS, float64((cpuTime()-c0).Microseconds())/1e3)
	}
	res.GemmFlops = (blas.Flops32() - f0) / int64(*steps)
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	res.MedianMS = median(res.TimesMS)
	res.CPUMedMS = median(res.CPUMS)
	res.PeakMiB = peakRSS()
	json.NewEncoder(os.Stdout).Encode(res)
}

// count returns the number of scalars in params.
func count(params []*nn.Parameter) int {
	n := 0
	for _, p := range params {
		n += p.V.Value.Len()
	}
	return n
}

// build returns the trainer of a model of the benchmark at a preset, with a
// fixed random batch of its data's shape.
func build(name, preset string, batch int) (*bench, error) {
	if preset != "paper" && preset != "quick" {
		return nil, fmt.Errorf("unknown preset %q (paper or quick)", preset)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	switch name {
	case "mnist-global", "mnist-local", "mnist-combined":
		cfg, err := mnistConfig(strings.TrimPrefix(name, "mnist-"))
		if err != nil {
			return nil, err
		}
		if preset == "quick" {
			cfg.BatchSize = mnist.QuickConfig(cfg.Model.Critic).BatchSize
		}
		if batch > 0 {
			cfg.BatchSize = batch
		}
		tr, err := mnist.NewTrainer(cfg)
		if err != nil {
			return nil, err
		}
		x := tensor.RandUniform(rng, tensor.Float32, 0, 1, cfg.BatchSize, cfg.Model.XDim)
		return &bench{tr: tr.Trainer, xs: [][]*tensor.Tensor{{x}}, cfg: cfg, batch: cfg.BatchSize}, nil
	case "cifar10":
		cfg := cifar10.PaperConfig()
		if preset == "quick" {
			cfg = cifar10.QuickConfig()
		}
		if batch > 0 {
			cfg.BatchSize = batch
		}
		tr, err := cifar10.NewTrainer(cfg)
		if err != nil {
			return nil, err
		}
		m := cfg.Model
		x := tensor.RandUniform(rng, tensor.Float32, -1, 1, cfg.BatchSize, m.ImageChannels, m.ImageSize, m.ImageSize)
		return &bench{tr: tr.Trainer, xs: [][]*tensor.Tensor{{x}}, cfg: cfg, batch: cfg.BatchSize}, nil
	case "movingmnist":
		cfg := movingmnist.PaperConfig()
		if preset == "quick" {
			cfg = movingmnist.QuickConfig()
		}
		if batch > 0 {
			cfg.BatchSize = batch
		}
		tr, err := movingmnist.NewTrainer(cfg)
		if err != nil {
			return nil, err
		}
		s := cfg.Model.FrameSize
		frames := make([]*tensor.Tensor, cfg.Data.Frames)
		for i := range frames {
			frames[i] = tensor.RandUniform(rng, tensor.Float32, 0, 1, cfg.BatchSize, 1, s, s)
		}
		return &bench{tr: tr.Trainer, xs: [][]*tensor.Tensor{frames}, cfg: cfg, batch: cfg.BatchSize}, nil
	}
	return nil, fmt.Errorf("unknown model %q (mnist-global, mnist-local, mnist-combined, cifar10 or movingmnist)", name)
}

// mnistConfig returns the paper's configuration for an algorithm of the benchmark.
func mnistConfig(algo string) (mnist.Config, error) {
	switch algo {
	case "global":
		return mnist.PaperConfig(model.CriticGlobal), nil // γ = 1
	case "local":
		c := mnist.PaperConfig(model.CriticLocal)
		c.Objective.Gamma = 0 // Eq. 7 + L_RECON alone
		return c, nil
	case "combined":
		return mnist.PaperConfig(model.CriticLocal), nil // Eq. 8, γ = 0.1
	}
	return mnist.Config{}, fmt.Errorf("unknown MNIST algorithm %q (global, local or combined)", algo)
}

// timeSgemm times tensor.MatMul of two n×n float32 matrices (what the
// training step's products go through: OpenBLAS, or our assembly kernel,
// cut into row blocks on GOMAXPROCS goroutines where the library is single
// threaded) and prints its GFLOP/s, median and best call.
func timeSgemm(n, warmup, steps int) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := tensor.RandUniform(rng, tensor.Float32, -1, 1, n, n)
	b := tensor.RandUniform(rng, tensor.Float32, -1, 1, n, n)
	for i := 0; i < warmup; i++ {
		tensor.MatMul(a, b, false, false)
	}
	var ms []float64
	for i := 0; i < max(steps, 1); i++ {
		t0 := time.Now()
		tensor.MatMul(a, b, false, false)
		ms = append(ms, float64(time.Since(t0).Microseconds())/1e3)
	}
	flops := 2 * float64(n) * float64(n) * float64(n)
	best := ms[0]
	for _, t := range ms {
		best = min(best, t)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl": "go " + blas.Implementation, "n": n, "gomaxprocs": runtime.GOMAXPROCS(0), "blas_threads": blas.Threads(), "blas_core": blas.CoreName(),
		"times_ms": ms, "median_gflops": flops / median(ms) / 1e6, "best_gflops": flops / best / 1e6,
	})
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// cpuTime returns the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns VmHWM, the peak resident set size, in MiB (0 if unknown).
func peakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
