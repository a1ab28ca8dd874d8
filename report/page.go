package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wakesleep/wakesleep/imaging"
	"github.com/wakesleep/wakesleep/internal/atomicfile"
	"github.com/wakesleep/wakesleep/internal/buildinfo"
	"github.com/wakesleep/wakesleep/internal/regular"
)

// Files the page reads from a run folder.
const (
	ConfigFile = "config.json" // train.ConfigFile
	EvalDir    = "eval"
	evalReport = "report.md" // eval's report, shown first
)

// maxPicture is the largest PNG the page embeds (bytes): a run's pictures
// are grids of tens of kilobytes; anything far larger is left out with a
// note rather than making the page unwieldy.
const maxPicture = 16 << 20

// now is the clock of the page's "written" line; a variable for tests.
var now = time.Now

// Refresh draws the training curves of the run folder dir into
// dir/curves.png and writes dir/report.html. The page is written even when
// the curves cannot be drawn yet (no metrics row), saying so; the error
// returned then says why.
func Refresh(dir string) error {
	run, err := ReadRun(dir)
	var curves []byte
	if err == nil {
		curves, err = encodeCurves([]Run{run})
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(dir, CurvesFile), curves, 0o644)
		}
	}
	if err != nil {
		err = fmt.Errorf("curves of %s: %w", dir, err)
	}
	p := newPage([]string{dir}, curves, err)
	return errors.Join(err, p.write(filepath.Join(dir, PageFile)))
}

// WritePage writes a page at path about the runs in dirs: their curves
// overlaid (a colour per run), then each run's pictures, evaluation and
// config. It fails if a folder holds no metrics.csv to read.
func WritePage(path string, dirs []string) error {
	if len(dirs) == 0 {
		return errors.New("no run folders")
	}
	var runs []Run
	for _, d := range dirs {
		r, err := ReadRun(d)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	curves, err := encodeCurves(runs)
	if err != nil {
		err = fmt.Errorf("curves: %w", err)
	}
	p := newPage(dirs, curves, err)
	return p.write(path)
}

func encodeCurves(runs []Run) ([]byte, error) {
	img, err := Curves(runs)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, imaging.Paletted(img)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// page is what the template shows.
type page struct {
	Title, Version, Written string
	Curves                  template.URL // data URI; empty if none
	CurvesNote              string
	Runs                    []runSection
}

type runSection struct {
	Name, Dir, Experiment, Progress string
	Pictures                        []picture
	PicturesNote                    string
	Eval                            template.HTML // report.md as HTML; empty if none
	EvalPictures                    []picture     // eval pictures report.md does not show
	EvalJSON                        []file        // eval.json and the other results
	Config                          string
	Notes                           []string // what could not be read
}

type picture struct {
	Name string
	Src  template.URL
	W, H int
}

func newPage(dirs []string, curves []byte, curvesErr error) *page {
	p := &page{Version: buildinfo.String(), Written: now().UTC().Format("2006-01-02 15:04 UTC")}
	var names []string
	for _, d := range dirs {
		s := readRunSection(d)
		names = append(names, s.Name)
		p.Runs = append(p.Runs, s)
	}
	p.Title = "wakesleep run " + names[0]
	if len(names) > 1 {
		p.Title = "wakesleep runs " + strings.Join(names, ", ")
	}
	if curvesErr != nil {
		p.CurvesNote = curvesErr.Error()
	} else {
		p.Curves = dataURI(curves)
	}
	return p
}

func dataURI(pngData []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngData))
}

// readPicture reads a PNG for the page, checking that it decodes.
func readPicture(path string) (picture, error) {
	st, err := os.Stat(path)
	if err != nil {
		return picture{}, err
	}
	if st.Size() > maxPicture {
		return picture{}, fmt.Errorf("%s: %d bytes, more than the page embeds", path, st.Size())
	}
	b, err := regular.ReadFile(path)
	if err != nil {
		return picture{}, err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return picture{}, fmt.Errorf("%s: %w", path, err)
	}
	return picture{Name: filepath.Base(path), Src: dataURI(b), W: cfg.Width, H: cfg.Height}, nil
}

// numbered matches the pictures a run writes as it goes:
// samples-epoch004.png, predict-step00001000.png.
var numbered = regexp.MustCompile(`^(.+)-(epoch|step)(\d+)\.png$`)

// latestPictures returns the PNGs of dir to show: of each numbered series
// the newest, and every other picture but the curves, sorted by name.
func latestPictures(dir string) (names []string, newest string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", err
	}
	best := map[string]int{}
	bestName, kind := map[string]string{}, map[string]string{}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ".png") || n == CurvesFile || strings.HasPrefix(n, ".") {
			continue
		}
		m := numbered.FindStringSubmatch(n)
		if m == nil {
			names = append(names, n)
			continue
		}
		k, _ := strconv.Atoi(m[3])
		key := m[1] + "-" + m[2]
		if _, ok := best[key]; !ok || k > best[key] {
			best[key], bestName[key], kind[key] = k, n, m[2]
		}
	}
	var tags []string
	for key, n := range bestName {
		names = append(names, n)
		tags = append(tags, kind[key]+" "+strconv.Itoa(best[key]))
	}
	sort.Strings(names)
	sort.Strings(tags)
	return names, strings.Join(slices.Compact(tags), ", "), nil
}

func readRunSection(dir string) runSection {
	s := runSection{Name: filepath.Base(filepath.Clean(dir)), Dir: dir}
	note := func(err error) { s.Notes = append(s.Notes, err.Error()) }
	if b, err := regular.ReadFile(filepath.Join(dir, ConfigFile)); err != nil {
		note(err)
	} else {
		s.Config = string(b)
		var head struct {
			Experiment string `json:"experiment"`
			Epochs     int    `json:"epochs"`
		}
		if json.Unmarshal(b, &head) == nil {
			s.Experiment = head.Experiment
			if r, err := ReadRun(dir); err == nil && len(r.Table.Rows) > 0 {
				steps := r.Table.Column("step")
				ep := r.Table.Column("epoch")
				s.Progress = fmt.Sprintf("step %.0f, epoch %.0f of %d", steps[len(steps)-1], ep[len(ep)-1], head.Epochs)
			}
		}
	}
	names, tag, err := latestPictures(dir)
	if err != nil {
		note(err)
	}
	if tag != "" {
		s.PicturesNote = "newest of each: " + tag
	}
	for _, n := range names {
		pic, err := readPicture(filepath.Join(dir, n))
		if err != nil {
			note(err)
			continue
		}
		s.Pictures = append(s.Pictures, pic)
	}
	s.readEval(filepath.Join(dir, EvalDir))
	return s
}

// readEval reads dir (a run's eval folder), if there is one: every
// Markdown report there (eval's report.md first, then the others, such as
// prediction.md or cifar10.md) with the pictures it shows, the pictures no
// report shows, and every JSON result, folded.
func (s *runSection) readEval(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var mds, jsons, pngs []string
	for _, e := range ents {
		switch n := e.Name(); {
		case !e.Type().IsRegular() || strings.HasPrefix(n, "."):
		case n == evalReport:
			mds = append([]string{n}, mds...)
		case strings.HasSuffix(n, ".md"):
			mds = append(mds, n)
		case strings.HasSuffix(n, ".json"):
			jsons = append(jsons, n)
		case strings.HasSuffix(n, ".png"):
			pngs = append(pngs, n)
		}
	}
	shown := map[string]bool{}
	var html strings.Builder
	for _, n := range mds {
		b, err := regular.ReadFile(filepath.Join(dir, n))
		if err != nil {
			s.Notes = append(s.Notes, err.Error())
			continue
		}
		html.WriteString(string(markdown(string(b), func(name string) (picture, bool) {
			pic, err := readPicture(filepath.Join(dir, filepath.Base(name)))
			if err != nil {
				return picture{}, false
			}
			shown[pic.Name] = true
			return pic, true
		})))
	}
	s.Eval = template.HTML(html.String())
	for _, n := range pngs {
		if !shown[n] {
			if pic, err := readPicture(filepath.Join(dir, n)); err == nil {
				s.EvalPictures = append(s.EvalPictures, pic)
			}
		}
	}
	for _, n := range jsons {
		if b, err := regular.ReadFile(filepath.Join(dir, n)); err == nil {
			s.EvalJSON = append(s.EvalJSON, file{n, string(b)})
		}
	}
}

// file is a text file the page shows.
type file struct{ Name, Text string }

var (
	mdImage = regexp.MustCompile(`^!\[([^\]]*)\]\(([^)\s]+)\)$`)
	mdCode  = regexp.MustCompile("`([^`]+)`")
	mdBold  = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// markdown renders the Markdown that eval writes (headings, paragraphs,
// pipe tables, a picture on a line of its own, `code`, **bold**) as HTML;
// other Markdown shows as text. Every text is escaped; pictures come from
// pic (those it does not find show their alt text).
func markdown(src string, pic func(name string) (picture, bool)) template.HTML {
	var b strings.Builder
	inline := func(s string) string {
		s = html.EscapeString(s)
		s = mdCode.ReplaceAllString(s, "<code>$1</code>")
		return mdBold.ReplaceAllString(s, "<b>$1</b>")
	}
	cells := func(line string) []string {
		line = strings.TrimSpace(line)
		line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
		return strings.Split(line, "|")
	}
	var para []string
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
	}
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "#"):
			flush()
			level := min(len(line)-len(strings.TrimLeft(line, "#")), 4)
			// The page's own headings are h1 and h2: eval's start at h3.
			h := strconv.Itoa(min(level+2, 6))
			b.WriteString("<h" + h + ">" + inline(strings.TrimSpace(strings.TrimLeft(line, "#"))) + "</h" + h + ">\n")
		case mdImage.MatchString(line):
			flush()
			m := mdImage.FindStringSubmatch(line)
			if p, ok := pic(m[2]); ok {
				fmt.Fprintf(&b, "<figure><img src=\"%s\" alt=\"%s\" width=\"%d\" height=\"%d\"><figcaption>%s</figcaption></figure>\n",
					html.EscapeString(string(p.Src)), html.EscapeString(m[1]), p.W, p.H, inline(m[1]))
			} else {
				b.WriteString("<p>[" + inline(m[1]) + "]</p>\n")
			}
		case strings.HasPrefix(line, "|"):
			flush()
			b.WriteString("<table>\n")
			for row := 0; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				cs := cells(lines[i])
				if strings.Trim(strings.Join(cs, ""), "-: ") == "" {
					continue // the separator under the header
				}
				tag := "td"
				if row == 0 {
					tag = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cs {
					b.WriteString("<" + tag + ">" + inline(strings.TrimSpace(c)) + "</" + tag + ">")
				}
				b.WriteString("</tr>\n")
				row++
			}
			i--
			b.WriteString("</table>\n")
		default:
			para = append(para, line)
		}
	}
	flush()
	return template.HTML(b.String())
}

func (p *page) write(path string) error {
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, p); err != nil {
		return fmt.Errorf("report page: %w", err)
	}
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}

// The page: no script, no request outside itself (the content security
// policy forbids any, so that a browser would report a slip), pictures as
// data URIs.
var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em auto; max-width: 1800px; padding: 0 1.2em; color: #202020; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; margin-top: 1.8em; }
.meta { color: #555; }
img { max-width: 100%; height: auto; image-rendering: pixelated; border: 1px solid #ddd; }
figure { display: inline-block; margin: 0.6em 1.2em 0.6em 0; vertical-align: top; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
pre { background: #f6f6f6; padding: 0.8em; overflow: auto; max-height: 40em; font-size: 0.85em; }
.note { color: #a04000; }
details { margin: 0.6em 0; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">Written {{.Written}} by {{.Version}}.</p>
{{if gt (len .Runs) 1}}<p>Runs: {{range $i, $r := .Runs}}{{if $i}}, {{end}}<a href="#run-{{$i}}">{{$r.Name}}</a>{{end}}</p>{{end}}
<h2 id="curves">Training curves</h2>
{{if .Curves}}<figure><img src="{{.Curves}}" alt="training curves: every logged value against the step"><figcaption>Every column of metrics.csv against the training step{{if gt (len .Runs) 1}}, a colour per run{{end}}: raw values faint, their moving average solid.</figcaption></figure>
{{else}}<p class="note">No curves: {{.CurvesNote}}</p>
{{end}}
{{- range $i, $r := .Runs}}{{with $r}}
<h2 id="run-{{$i}}">{{.Name}}</h2>
<p class="meta">{{if .Experiment}}{{.Experiment}} run{{end}}{{if .Progress}}, {{.Progress}}{{end}}; folder <code>{{.Dir}}</code></p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
<h3>Pictures</h3>
{{if .PicturesNote}}<p class="meta">{{.PicturesNote}}</p>{{end}}
{{range .Pictures}}<figure><img src="{{.Src}}" alt="{{.Name}}" width="{{.W}}" height="{{.H}}"><figcaption>{{.Name}}</figcaption></figure>
{{else}}<p>No pictures yet.</p>
{{end}}
{{if or .Eval .EvalPictures .EvalJSON}}<h3>Evaluation (eval/)</h3>
{{.Eval}}
{{range .EvalPictures}}<figure><img src="{{.Src}}" alt="{{.Name}}" width="{{.W}}" height="{{.H}}"><figcaption>{{.Name}}</figcaption></figure>
{{end}}
{{range .EvalJSON}}<details><summary>{{.Name}}</summary><pre>{{.Text}}</pre></details>
{{end}}
{{end}}
<h3>Config</h3>
{{if .Config}}<details open><summary>config.json</summary><pre>{{.Config}}</pre></details>{{else}}<p class="note">No config.json.</p>{{end}}
{{- end}}{{end}}
</body>
</html>
`))
