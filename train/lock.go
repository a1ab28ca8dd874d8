package train

import (
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"strconv"
	"strings"
)

// LockFile is the file of a run folder that names the process training in
// it. Run holds it from before it reads or writes anything in the folder
// until it returns.
const LockFile = "run.lock"

// ErrLocked is wrapped by Run's error when another process trains in the
// run folder.
var ErrLocked = errors.New("run folder is in use")

// LockedError names the process holding a run folder's lock.
type LockedError struct {
	Dir string
	PID int // 0 if the lock file does not say
}

func (e *LockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("%v: %s trains in %s (lock file %s); wait for it to end, or choose another folder", ErrLocked, holder, e.Dir, LockFile)
}

// Is lets errors.Is(err, ErrLocked) match.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// lockPID reads the PID a lock file names (0 if none).
func lockPID(path string) int {
	b, err := regular.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
