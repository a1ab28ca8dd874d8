//go:build unix

package train

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockDir takes dir's lock: an exclusive flock(2) on its LockFile, which
// then names this process. The kernel releases a flock when its holder dies,
// however it dies, so a lock file left by a process that is gone is taken
// over (and said so on out). The returned function releases the lock.
func lockDir(dir string, out io.Writer) (func(), error) {
	path := filepath.Join(dir, LockFile)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock run folder: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &LockedError{Dir: dir, PID: lockPID(path)}
			}
			return nil, fmt.Errorf("lock run folder: %w", err)
		}
		// The holder before us may have removed the file between our open
		// and our flock: then we hold a lock on a file nobody else sees.
		st, err1 := f.Stat()
		cur, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(st, cur) {
			f.Close()
			continue
		}
		if pid := lockPID(path); pid > 0 && pid != os.Getpid() {
			fmt.Fprintf(out, "taking over the lock of %s, left by process %d, which is gone\n", dir, pid)
		}
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return func() {
			os.Remove(path) // while still holding the lock
			f.Close()
		}, nil
	}
}

// lockHeld returns a *LockedError if a live process holds dir's lock.
func lockHeld(dir string) error {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		return &LockedError{Dir: dir, PID: lockPID(path)}
	} else if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return nil
}
