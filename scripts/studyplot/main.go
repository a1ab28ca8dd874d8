// Command studyplot draws learning curves from the table that
// scripts/recipe_study.py writes: a metric against training steps and
// against wall time, one line per setting (mean over seeds, each seed's
// points faint beside it).
//
//	go run ./scripts/studyplot --csv results/mnist/study.csv \
//	    --settings quick-local,local-paper --metric recon_agreement \
//	    --out results/mnist/curve-agreement
//
// writes curve-agreement-steps.png and curve-agreement-wall.png.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image/color"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/imaging"
)

func main() {
	path := flag.String("csv", "results/mnist/study.csv", "study table")
	settings := flag.String("settings", "", "comma-separated settings to draw (default: all)")
	metric := flag.String("metric", "recon_agreement", "column to draw")
	label := flag.String("label", "", "y-axis label (default: the column name)")
	title := flag.String("title", "", "plot title")
	out := flag.String("out", "curve", "output prefix: <out>-steps.png and <out>-wall.png")
	flag.Parse()
	if err := run(*path, *settings, *metric, *label, *title, *out); err != nil {
		fmt.Fprintln(os.Stderr, "studyplot:", err)
		os.Exit(1)
	}
}

type point struct{ step, wall, y float64 }

func run(path, settings, metric, label, title, out string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return fmt.Errorf("%s: no rows", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, need := range []string{"setting", "seed", "step", "wall_s", metric} {
		if _, ok := col[need]; !ok {
			return fmt.Errorf("%s: no column %q", path, need)
		}
	}
	want := map[string]bool{}
	var order []string
	if settings != "" {
		for _, s := range strings.Split(settings, ",") {
			want[s] = true
			order = append(order, s)
		}
	}
	bySetting := map[string]map[string][]point{} // setting → seed → points
	for _, r := range rows[1:] {
		s := r[col["setting"]]
		if settings != "" && !want[s] {
			continue
		}
		step, e1 := strconv.ParseFloat(r[col["step"]], 64)
		y, e2 := strconv.ParseFloat(r[col[metric]], 64)
		if e1 != nil || e2 != nil {
			continue
		}
		wall, err := strconv.ParseFloat(r[col["wall_s"]], 64)
		if err != nil {
			wall = -1
		}
		if bySetting[s] == nil {
			bySetting[s] = map[string][]point{}
			if settings == "" {
				order = append(order, s)
			}
		}
		seed := r[col["seed"]]
		bySetting[s][seed] = append(bySetting[s][seed], point{step, wall / 60, y})
	}
	if label == "" {
		label = metric
	}
	for _, axis := range []string{"steps", "wall"} {
		p := &imaging.Plot{Title: title, YLabel: label, Width: 900, Height: 540}
		if axis == "steps" {
			p.XLabel = "training steps"
		} else {
			p.XLabel = "wall time (minutes, one core per run)"
		}
		for i, s := range order {
			seeds := bySetting[s]
			if len(seeds) == 0 {
				continue
			}
			c := imaging.DefaultColors[i%len(imaging.DefaultColors)]
			faint := color.RGBA{c.R, c.G, c.B, 90}
			sum := map[float64][]float64{}
			wall := map[float64][]float64{}
			var names []string
			for seed := range seeds {
				names = append(names, seed)
			}
			sort.Strings(names)
			for _, seed := range names {
				ps := seeds[seed]
				sort.Slice(ps, func(a, b int) bool { return ps[a].step < ps[b].step })
				var xs, ys []float64
				for _, q := range ps {
					x := q.step
					if axis == "wall" {
						x = q.wall
					}
					if x < 0 {
						continue
					}
					xs, ys = append(xs, x), append(ys, q.y)
					sum[q.step] = append(sum[q.step], q.y)
					wall[q.step] = append(wall[q.step], q.wall)
				}
				p.Series = append(p.Series, imaging.Series{X: xs, Y: ys, Scatter: true, Color: faint})
			}
			var steps []float64
			for st := range sum {
				steps = append(steps, st)
			}
			sort.Float64s(steps)
			var xs, ys []float64
			for _, st := range steps {
				x := st
				if axis == "wall" {
					x = mean(wall[st])
				}
				xs, ys = append(xs, x), append(ys, mean(sum[st]))
			}
			p.Series = append(p.Series, imaging.Series{Label: fmt.Sprintf("%s (%d seeds)", s, len(seeds)), X: xs, Y: ys, Color: c})
		}
		if len(p.Series) == 0 {
			return fmt.Errorf("no rows for settings %q", settings)
		}
		if err := p.SavePNG(out + "-" + axis + ".png"); err != nil {
			return err
		}
	}
	return nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
