package gcpolicy

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "")
	if Apply() {
		t.Error("Apply overrode a GOGC the user set")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent %d after Apply with GOGC set, want it left at 100", got)
	}
}

func TestApplyDefault(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	// The test binary may run with GOGC in its environment; Apply's
	// default path is what matters here.
	if env, ok := lookupGOGC(); ok {
		t.Skipf("GOGC=%q is set for this test process", env)
	}
	if !Apply() {
		t.Fatal("Apply did nothing without GOGC")
	}
	if got := debug.SetGCPercent(100); got != Percent {
		t.Errorf("GC percent %d, want %d", got, Percent)
	}
}

func lookupGOGC() (string, bool) { return os.LookupEnv("GOGC") }
