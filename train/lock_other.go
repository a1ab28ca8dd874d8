//go:build !unix

package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// lockDir takes dir's lock by creating its LockFile, naming this process;
// without flock(2) a lock left by a process that died cannot be told from a
// live one, so the message says to delete it then.
func lockDir(dir string, out io.Writer) (func(), error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w (if that process is gone, delete %s)", &LockedError{Dir: dir, PID: lockPID(path)}, path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock run folder: %w", err)
	}
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	f.Close()
	return func() { os.Remove(path) }, nil
}

// lockHeld returns a *LockedError if dir has a lock file.
func lockHeld(dir string) error {
	path := filepath.Join(dir, LockFile)
	if _, err := os.Stat(path); err == nil {
		return &LockedError{Dir: dir, PID: lockPID(path)}
	}
	return nil
}
