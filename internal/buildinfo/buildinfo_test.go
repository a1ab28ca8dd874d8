package buildinfo

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	s, info := String(), Info()
	if !strings.HasPrefix(s, "wakesleep ") {
		t.Errorf("String() = %q, want it to start with \"wakesleep \"", s)
	}
	// A test binary has build info: at least the Go version.
	if info["go"] == "" || !strings.Contains(s, info["go"]) {
		t.Errorf("String() = %q, Info() = %v: want the Go version in both", s, info)
	}
	if rev := info["vcs.revision"]; rev != "" && !strings.Contains(s, rev[:min(12, len(rev))]) {
		t.Errorf("String() = %q lacks the revision %s", s, rev)
	}
}
