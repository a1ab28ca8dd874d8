//go:build unix

package cli

import (
	"os/exec"
	"syscall"
)

// ownGroup puts a sweep's run in a process group of its own, so that a
// Ctrl-C at the terminal reaches only the sweep, which passes one SIGINT on
// to each run (two would make a run quit without saving its step).
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
