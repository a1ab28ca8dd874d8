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

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportUsage, stderr)
	out := fs.String("out", "", "write the page here (default: <run>/report.html for one run, report.html for several)")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("name one or more run folders")
	}
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() {
			return usagef("%s is not a run folder", d)
		}
		if _, err := os.Stat(filepath.Join(d, report.MetricsFile)); err != nil {
			return fmt.Errorf("%s holds no %s: not a run folder, or its run has not logged a step yet", d, report.MetricsFile)
		}
	}
	if err := outFile("out", *out); err != nil {
		return err
	}
	if *out == "-" {
		return usagef("--out must be a file")
	}
	if len(dirs) == 1 && *out == "" {
		if err := report.Refresh(dirs[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(dirs[0], report.CurvesFile), filepath.Join(dirs[0], report.PageFile))
		return nil
	}
	if *out == "" {
		*out = report.PageFile
	}
	if err := report.WritePage(*out, dirs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return ctx.Err()
}
