// Package regular opens and reads only regular files: a path naming a
// device (/dev/zero, /dev/urandom), a FIFO, a socket or a folder where a
// file is wanted would otherwise block on open or be read forever.
package regular

import (
	"fmt"
	"os"
)

// Check returns an error unless path names a regular file (after symlinks).
func Check(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	return nil
}

// Open is os.Open of a regular file only.
func Open(path string) (*os.File, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	return os.Open(path)
}

// ReadFile is os.ReadFile of a regular file only.
func ReadFile(path string) ([]byte, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}
