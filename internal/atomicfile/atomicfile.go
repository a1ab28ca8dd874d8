// Package atomicfile writes files so that readers see either the old content
// or the complete new content, never a partial file, even across a crash.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces the file at path with what fill writes, with
// permission bits perm. It writes to a temporary file in the same directory
// (named ".<base>.tmp-*"), fsyncs it, renames it over path and fsyncs the
// directory so the rename itself is durable. On any error the temporary file
// is removed and path is left untouched. Errors name path.
//
// An existing path that is not a regular file (or a symlink) is refused: the
// rename would replace a folder's entry for a device, a FIFO or a socket
// (--out /dev/stdout) with a regular file.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	if st, err := os.Lstat(path); err == nil {
		switch m := st.Mode(); {
		case m.IsDir():
			return fmt.Errorf("write %q: it is a directory", path)
		case !m.IsRegular() && m&os.ModeSymlink == 0:
			return fmt.Errorf("write %q: it exists and is not a regular file (%s): refusing to replace it", path, m.Type())
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("write %q: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// WriteFile is Write with a byte slice, like os.WriteFile.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
