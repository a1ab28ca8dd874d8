// Package buildinfo says which build of wakesleep is running: the module
// version and the version-control state the Go toolchain stamped into the
// binary (runtime/debug.ReadBuildInfo).
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info returns the build's module version ("version"), Go version ("go")
// and, where the toolchain recorded them, "vcs.revision", "vcs.time" and
// "vcs.modified" ("true": built from a working tree with uncommitted
// changes). Keys without a value are absent.
func Info() map[string]string {
	m := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return m
	}
	if v := bi.Main.Version; v != "" {
		m["version"] = v
	}
	if bi.GoVersion != "" {
		m["go"] = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision", "vcs.time", "vcs.modified":
			if s.Value != "" {
				m[s.Key] = s.Value
			}
		}
	}
	return m
}

// String is the build on one line, e.g.
// "wakesleep (devel) rev 5dd3a77c1f2e (2026-12-01T12:00:00Z, dirty) go1.26.8":
// the module version, the first 12 digits of the revision, its time and
// whether the tree was dirty; "unknown" for what was not recorded. The Go
// toolchain records the revision only when it builds inside a git checkout
// (not a linked worktree) without -buildvcs=false.
func String() string {
	m := Info()
	var b strings.Builder
	b.WriteString("wakesleep ")
	b.WriteString(or(m["version"], "unknown"))
	rev := m["vcs.revision"]
	if len(rev) > 12 {
		rev = rev[:12]
	}
	rev = or(rev, "unknown (no VCS stamp)")
	b.WriteString(" rev " + rev)
	var extra []string
	if t := m["vcs.time"]; t != "" {
		extra = append(extra, t)
	}
	if m["vcs.modified"] == "true" {
		extra = append(extra, "dirty")
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	if g := m["go"]; g != "" {
		b.WriteString(" " + g)
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
