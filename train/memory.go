package train

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MemoryEstimator is an experiment that can estimate, from a config alone
// (before any tensor is allocated), the bytes a training run of it needs:
// parameters with their gradients and both Adam moments, and the
// activations a step records (both phases, the critics, the gradient
// penalty's second backward pass). An estimate is a float64 so that no
// product of sizes can overflow; it is rough (within a small factor) and
// errs on the high side.
type MemoryEstimator interface {
	MemoryEstimate(cfg Config) float64
}

// ErrTooBig is wrapped by the error of a run that would not fit in memory.
var ErrTooBig = errors.New("would not fit in memory")

// CheckMemory refuses a config whose estimated memory exceeds limit bytes
// (0: the memory this machine has available now, if it can tell); the
// message gives the estimate. An experiment that gives no estimate passes.
func CheckMemory(ex Experiment, cfg Config, limit float64) error {
	est, ok := ex.(MemoryEstimator)
	if !ok {
		return nil
	}
	need := est.MemoryEstimate(cfg)
	what := "available"
	if limit <= 0 {
		avail, err := AvailableMemory()
		if err != nil {
			return nil // cannot tell: let the run try
		}
		limit = float64(avail)
	} else {
		what = "allowed"
	}
	if need > limit {
		return fmt.Errorf("%w: this %s config needs about %s (estimate: parameters, their gradients and Adam moments, and a step's activations at batch size %d), and %s are %s; make the model or the batch smaller",
			ErrTooBig, ex.Name(), Bytes(need), cfg.RunSettings().BatchSize, Bytes(limit), what)
	}
	return nil
}

// AvailableMemory returns the memory the kernel says new allocations can
// get without swapping (MemAvailable of /proc/meminfo, Linux), or an error
// where that is not known.
func AvailableMemory() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

// Bytes formats a byte count: "512 MiB", "3.2 GiB", "7.1e+06 TiB".
func Bytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if b < 10 {
		return fmt.Sprintf("%.1f %s", b, units[i])
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}

// TrainingBytes is the memory of a run whose model has params parameters
// and whose step records acts activation values (float32 each): every
// parameter four times (value, gradient, two Adam moments), every
// activation with its gradient, and twice that for what the autodiff tape
// keeps besides and for the gradient penalty's second pass.
func TrainingBytes(params, acts float64) float64 {
	const f32 = 4
	return f32 * (4*params + 4*acts)
}
