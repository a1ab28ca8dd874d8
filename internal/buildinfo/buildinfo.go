// Package buildinfo says which build of wakesleep is running: the module
// version and the version-control state the Go toolchain stamped into the
// binary (runtime/debug.ReadBuildInfo). Reports and the command line take
// their version line from here, so that every file names its build the same
// way.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// read is debug.ReadBuildInfo; a variable for tests.
var read = debug.ReadBuildInfo

// Info returns what the binary knows of its build: "go" (the toolchain),
// "module" (the main module's path), "version" (its module version,
// "(devel)" for a build from a work tree), and, when built from a version-
// controlled tree with VCS stamping, "vcs.revision", "vcs.time" and
// "vcs.modified" ("true" if the tree had uncommitted changes). Keys whose
// value is unknown are left out; a binary without build information (built
// without module support) gives an empty map.
func Info() map[string]string {
	m := map[string]string{}
	bi, ok := read()
	if !ok {
		return m
	}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("go", bi.GoVersion)
	put("module", bi.Main.Path)
	put("version", bi.Main.Version)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified":
			put(s.Key, s.Value)
		}
	}
	return m
}

// String returns the build on one line, e.g.
// "wakesleep (devel) 5dd3a77c1e2f (modified) go1.24.0": the module version,
// the first 12 hex digits of the revision, "(modified)" for a tree with
// uncommitted changes, and the toolchain. Parts that are unknown are left
// out; "wakesleep (unknown build)" if nothing is known.
func String() string {
	m := Info()
	parts := []string{"wakesleep"}
	if v := m["version"]; v != "" {
		parts = append(parts, v)
	}
	if r := m["vcs.revision"]; r != "" {
		parts = append(parts, r[:min(12, len(r))])
		if m["vcs.modified"] == "true" {
			parts = append(parts, "(modified)")
		}
	}
	if g := m["go"]; g != "" {
		parts = append(parts, g)
	}
	if len(parts) == 1 {
		return "wakesleep (unknown build)"
	}
	return strings.Join(parts, " ")
}
