// Command gostep times wakesleep's MNIST training step (train.Trainer.TrainStep)
// for the comparison with PyTorch in bench/compare.py.
//
//	go run ./bench/gostep -algo global -steps 10
//	go run -tags openblas ./bench/gostep -algo combined -steps 10 -cpuprofile cpu.pprof
//
// It builds the paper's model and optimizers (mnist.PaperConfig, batch 512),
// runs -warmup untimed steps, then -steps timed ones on a fixed random batch,
// and prints one JSON object: the per-step times in milliseconds, their median
// and the peak resident memory (VmHWM of /proc/self/status) in MiB.
//
// Algorithms:
//
//	global    global critic on (x, z), Eq. 4 (γ = 1), Fig. 3B
//	local     local critics D_x, D_z, Eq. 7 plus L_RECON (γ = 0)
//	combined  local critics, Eq. 8 with γ = 0.1, Fig. 3C
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
	"github.com/wakesleep/wakesleep/experiment/mnist"
	"github.com/wakesleep/wakesleep/model"
	"github.com/wakesleep/wakesleep/tensor"
)

type result struct {
	Impl     string    `json:"impl"`
	Algo     string    `json:"algo"`
	Batch    int       `json:"batch"`
	Procs    int       `json:"gomaxprocs"`
	TimesMS  []float64 `json:"times_ms"`
	CPUMS    []float64 `json:"cpu_ms"` // user+system CPU time of the process per step
	MedianMS float64   `json:"median_ms"`
	CPUMedMS float64   `json:"median_cpu_ms"`
	PeakMiB  float64   `json:"peak_rss_mib"`
}

func main() {
	algo := flag.String("algo", "global", "global, local or combined")
	batch := flag.Int("batch", 512, "batch size")
	warmup := flag.Int("warmup", 2, "untimed steps first")
	steps := flag.Int("steps", 10, "timed steps")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile to this file at the end")
	flag.Parse()

	cfg, err := config(*algo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gostep:", err)
		os.Exit(2)
	}
	cfg.BatchSize = *batch
	tr, err := mnist.NewTrainer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gostep:", err)
		os.Exit(1)
	}
	x := tensor.RandUniform(rand.New(rand.NewPCG(1, 2)), tensor.Float32, 0, 1, *batch, cfg.Model.XDim)
	xs := [][]*tensor.Tensor{{x}}
	step := func() {
		if _, err := tr.TrainStep(xs); err != nil {
			fmt.Fprintln(os.Stderr, "gostep:", err)
			os.Exit(1)
		}
	}
	for i := 0; i < *warmup; i++ {
		step()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gostep:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "gostep:", err)
			os.Exit(1)
		}
	}
	res := result{Impl: "go " + blas.Implementation, Algo: *algo, Batch: *batch, Procs: runtime.GOMAXPROCS(0)}
	for i := 0; i < *steps; i++ {
		c0, t0 := cpuTime(), time.Now()
		step()
		res.TimesMS = append(res.TimesMS, float64(time.Since(t0).Microseconds())/1e3)
		res.CPUMS = append(res.CPUMS, float64((cpuTime()-c0).Microseconds())/1e3)
	}
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

// config returns the paper's configuration for an algorithm of the benchmark.
func config(algo string) (mnist.Config, error) {
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
	return mnist.Config{}, fmt.Errorf("unknown algorithm %q (global, local or combined)", algo)
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
