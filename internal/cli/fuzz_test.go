package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// parsers are every subcommand's command-line parser, none of which reads
// data, builds a model or writes anything.
var parsers = map[string]func(args []string) error{
	"train": func(a []string) error {
		_, _, cfg, err := parseTrain(a, io.Discard)
		if err == nil && cfg == nil {
			return errors.New("no config and no error")
		}
		return err
	},
	"sample": func(a []string) error {
		_, err := parsePicture(a, io.Discard, "sample", sampleUsage, 64, "samples.png")
		return err
	},
	"reconstruct": func(a []string) error {
		_, err := parsePicture(a, io.Discard, "reconstruct", reconstructUsage, 32, "recon.png")
		return err
	},
	"eval": func(a []string) error {
		_, _, _, _, err := parseEval(a, io.Discard)
		return err
	},
	"diagnose":   func(a []string) error { _, err := parseDiagnose(a, io.Discard); return err },
	"classifier": func(a []string) error { _, _, err := parseClassifierCommand(a, io.Discard); return err },
	"predict":    func(a []string) error { _, err := parsePredict(a, io.Discard); return err },
	"report":     func(a []string) error { _, err := parseReport(a, io.Discard); return err },
	"probe": func(a []string) error {
		_, _, _, err := parseProbe(a, io.Discard)
		return err
	},
	"reproduce": func(a []string) error { _, err := parseReproduce(a, io.Discard); return err },
	"sweep":     func(a []string) error { _, err := parseSweep(a, io.Discard); return err },
	"version":   func(a []string) error { _, err := parseVersion(a, io.Discard); return err },
}

// Every command has its parser here.
func TestParsersCoverEveryCommand(t *testing.T) {
	for _, c := range commands() {
		if parsers[c.name] == nil {
			t.Errorf("command %s has no parser in the fuzz target", c.name)
		}
	}
}

// FuzzParse feeds random argument lists (NUL-separated) to every
// subcommand's parser: none may panic; an error is a usage error (or -h),
// whose message is not empty.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"mnist\x00--epochs\x003",
		"cifar10\x00--channels\x001,2,3,4,5\x00--batch-size\x009223372036854775807\x00--critic-steps\x002",
		"--checkpoint\x00x\x00--n\x00NaN",
		"--run\x00x\x00--resume\x00--epochs\x00-1",
		"train\x00--hidden\x0099999999999999999999",
		"--study\x00oscillation\x00--checkpoint\x00x\x00--angles\x00Inf,NaN",
		"--compare\x00a\x00b",
		"train\x00--dataset\x00cifar10\x00--out\x00x\x00--channels\x000",
		"-h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, "\x00")
		for name, p := range parsers {
			err := p(args)
			if err == nil || errors.Is(err, flag.ErrHelp) {
				continue
			}
			var ue *usageError
			if !errors.As(err, &ue) && name != "train" && name != "reproduce" && name != "sweep" {
				// train reads a resumed folder's config.json, reproduce
				// the committed results, sweep its runs' train command
				// lines; others only check their flags.
				t.Errorf("%s %q: %v is not a usage error", name, args, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Errorf("%s %q: empty error message", name, args)
			}
		}
	})
}
