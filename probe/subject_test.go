package probe

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestEachCheckpoint checks the loader contract of the development and
// plasticity studies: ErrSkip leaves a checkpoint out (indices still count
// it), any other error stops the run, and a run needs a checkpoint.
func TestEachCheckpoint(t *testing.T) {
	t.Parallel()
	subject := func(name string) func() (*Subject, error) {
		return func() (*Subject, error) { return &Subject{Name: name}, nil }
	}
	skip := func() (*Subject, error) { return nil, ErrSkip }
	broken := errors.New("unreadable checkpoint")
	var got []string
	measure := func(i int, s *Subject) error {
		got = append(got, fmt.Sprintf("%s@%d", s.Name, i))
		return nil
	}
	if err := eachCheckpoint("plasticity", []func() (*Subject, error){subject("a"), skip, subject("c")}, measure); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "a@0 c@2" {
		t.Errorf("measured %v, want a@0 c@2", got)
	}
	got = nil
	err := eachCheckpoint("plasticity", []func() (*Subject, error){subject("a"),
		func() (*Subject, error) { return nil, broken }, subject("c")}, measure)
	if !errors.Is(err, broken) || len(got) != 1 {
		t.Errorf("loader error: %v after %v, want it after a@0 alone", err, got)
	}
	stop := errors.New("measure failed")
	if err := eachCheckpoint("development", []func() (*Subject, error){subject("a"), subject("b")},
		func(int, *Subject) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("measure error: %v", err)
	}
	if err := eachCheckpoint("development", nil, measure); err == nil || err.Error() != "probe: development needs at least one checkpoint" {
		t.Errorf("no checkpoints: %v", err)
	}
}
