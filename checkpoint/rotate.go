package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoCheckpoint is wrapped by Latest when the directory holds no
// "<prefix>-<step>.safetensors" file at all (a fresh run, not a failure).
var ErrNoCheckpoint = errors.New("no checkpoint")

// FileName returns the base name of the checkpoint for step:
// "<prefix>-<step>.safetensors", the step zero-padded to 8 digits so that
// directory listings sort by step. Panics on a negative step.
func FileName(prefix string, step int) string {
	if step < 0 {
		panic(fmt.Sprintf("checkpoint: negative step %d", step))
	}
	return fmt.Sprintf("%s-%08d.safetensors", prefix, step)
}

// stepped is one checkpoint file found in a directory.
type stepped struct {
	path string
	step int
}

// list returns the "<prefix>-<digits>.safetensors" files in dir, newest (the
// largest step) first. Other files, such as "<prefix>-best.safetensors" or
// temporary files of an unfinished Save, are ignored.
func list(dir, prefix string) ([]stepped, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []stepped
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix+"-")
		if !ok || e.IsDir() {
			continue
		}
		digits, ok := strings.CutSuffix(rest, ".safetensors")
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
			continue
		}
		step, err := strconv.Atoi(digits)
		if err != nil { // more digits than an int holds
			continue
		}
		out = append(out, stepped{filepath.Join(dir, name), step})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].step != out[j].step {
			return out[i].step > out[j].step
		}
		return out[i].path > out[j].path
	})
	return out, nil
}

// Rotate deletes all but the newest keep checkpoints "<prefix>-<step>.safetensors"
// in dir, newest meaning the largest step. Files of other names are never
// touched. keep must be at least 1.
func Rotate(dir, prefix string, keep int) error {
	if keep < 1 {
		return fmt.Errorf("checkpoint: Rotate keep=%d, want at least 1", keep)
	}
	files, err := list(dir, prefix)
	if err != nil {
		return fmt.Errorf("rotate checkpoints: %w", err)
	}
	var errs []error
	for _, f := range files[min(keep, len(files)):] {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("rotate checkpoints: %w", err)
	}
	return nil
}

// FallbackError is returned by Latest together with a usable path and step
// when one or more newer checkpoints failed to load and an older one was
// chosen instead. Skipped lists the newer files' errors, newest first.
type FallbackError struct {
	Path    string  // the checkpoint Latest returned
	Skipped []error // why each newer file was rejected
}

func (e *FallbackError) Error() string {
	msgs := make([]string, len(e.Skipped))
	for i, err := range e.Skipped {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("fell back to %q: skipped %d newer checkpoint(s): %s", e.Path, len(e.Skipped), strings.Join(msgs, "; "))
}

// Unwrap exposes the skipped files' errors to errors.Is and errors.As.
func (e *FallbackError) Unwrap() []error { return e.Skipped }

// Latest returns the newest checkpoint "<prefix>-<step>.safetensors" in dir
// that loads and verifies (see Verify), and its step.
//
// If newer files are corrupt, Latest falls back to the newest good one and
// reports it: it returns that path and step together with a non-nil
// *FallbackError. A caller that accepts the fallback tests for it:
//
//	path, step, err := checkpoint.Latest(dir, "ckpt")
//	var fb *checkpoint.FallbackError
//	if errors.As(err, &fb) {
//		log.Printf("warning: %v", fb)
//		err = nil
//	}
//
// With no checkpoint files at all it returns an error wrapping
// ErrNoCheckpoint; if every file is corrupt, an error listing them all.
func Latest(dir, prefix string) (path string, step int, err error) {
	return LatestAccepted(dir, prefix, nil)
}

// LatestAccepted is Latest with a further test of each file that loads and
// verifies: a file for which accept returns an error is skipped like a
// corrupt one (say, a checkpoint whose checksum is right but whose tensors
// hold NaN). A nil accept accepts every file.
func LatestAccepted(dir, prefix string, accept func(path string, f *File) error) (path string, step int, err error) {
	files, err := list(dir, prefix)
	if err != nil {
		return "", 0, fmt.Errorf("find latest checkpoint: %w", err)
	}
	if len(files) == 0 {
		return "", 0, fmt.Errorf("%w named %s-<step>.safetensors in %q", ErrNoCheckpoint, prefix, dir)
	}
	var skipped []error
	for _, f := range files {
		loaded, err := LoadFile(f.path)
		if err == nil && accept != nil {
			err = accept(f.path, loaded)
		}
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		if len(skipped) > 0 {
			return f.path, f.step, &FallbackError{Path: f.path, Skipped: skipped}
		}
		return f.path, f.step, nil
	}
	return "", 0, fmt.Errorf("find latest checkpoint in %q: all %d are unreadable: %w", dir, len(files), errors.Join(skipped...))
}
