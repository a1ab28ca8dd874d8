package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wakesleep/wakesleep/report"
)

const reportUsage = `
Usage: wakesleep report <run folder>... [--out <file.html>]

Writes a run's page: one self-contained HTML file (pictures inside it, no
script, nothing fetched) that any browser opens offline, with the training
curves (every column of metrics.csv against the step, raw values faint under
their moving average), the newest pictures, the evaluation in eval/ if there
is one, config.json and the build of wakesleep. Training writes the same page
and curves.png into the run folder at the end of every epoch.

One run folder: writes <run>/curves.png and <run>/report.html (or --out).
Several: one page at --out (default report.html) with their curves overlaid,
a colour per run, then each run's pictures, evaluation and config.

Examples:
  $ wakesleep report runs/mnist-local-20250101-120000
  $ wakesleep report runs/global runs/local --out compare.html
`

// reportOptions are the flags and arguments of report.
type reportOptions struct {
	dirs []string
	out  string
}

func parseReport(args []string, stderr io.Writer) (*reportOptions, error) {
	o := &reportOptions{}
	fs := newFlagSet("report", reportUsage, stderr)
	fs.StringVar(&o.out, "out", "", "write the page here (default: <run>/report.html for one run, report.html for several)")
	dirs, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, usagef("name one or more run folders")
	}
	o.dirs = dirs
	if o.out == "-" {
		return nil, usagef("--out must be a file")
	}
	if err := outFile("out", o.out); err != nil {
		return nil, err
	}
	return o, nil
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseReport(args, stderr)
	if err != nil {
		return err
	}
	for _, d := range o.dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() {
			return usagef("%s is not a run folder", d)
		}
		if _, err := os.Stat(filepath.Join(d, report.MetricsFile)); err != nil {
			return fmt.Errorf("%s holds no %s: not a run folder, or its run has not logged a step yet", d, report.MetricsFile)
		}
	}
	if len(o.dirs) == 1 && o.out == "" {
		if err := report.Refresh(o.dirs[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(o.dirs[0], report.CurvesFile), filepath.Join(o.dirs[0], report.PageFile))
		return nil
	}
	out := o.out
	if out == "" {
		out = report.PageFile
	}
	if err := report.WritePage(out, o.dirs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return ctx.Err()
}
