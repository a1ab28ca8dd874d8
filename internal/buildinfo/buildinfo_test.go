package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestStringAndInfo(t *testing.T) {
	defer func(r func() (*debug.BuildInfo, bool)) { read = r }(read)
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
		keys int
	}{
		{"none", nil, false, "wakesleep (unknown build)", 0},
		{"devel, clean", &debug.BuildInfo{GoVersion: "go1.24.0", Main: debug.Module{Path: "github.com/wakesleep/wakesleep", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "5dd3a77c1e2f4b5a6d7e8f90123456789abcdef0"}, {Key: "vcs.modified", Value: "false"}, {Key: "GOOS", Value: "linux"}}},
			true, "wakesleep (devel) 5dd3a77c1e2f go1.24.0", 5},
		{"modified", &debug.BuildInfo{GoVersion: "go1.24.0", Main: debug.Module{Version: "v1.2.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			true, "wakesleep v1.2.0 abc (modified) go1.24.0", 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			read = func() (*debug.BuildInfo, bool) { return c.bi, c.ok }
			if got := String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
			if got := Info(); len(got) != c.keys {
				t.Errorf("Info() = %v, want %d keys", got, c.keys)
			}
		})
	}
}
