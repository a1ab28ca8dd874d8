// Package metrics appends one row of named numbers per call to a CSV or
// JSON Lines file, flushing every row so the file can be plotted or tailed
// while training runs.
//
// A resumed run reopens the file with ResumeCSV or ResumeJSONL, which first
// drops the rows logged after the checkpoint it resumes from (step column
// greater than the resume step), plus any half-written last line, so the
// file never holds a step twice.
package metrics

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

// StepColumn is the column that orders rows; resuming needs it.
const StepColumn = "step"

type format int

const (
	formatCSV format = iota
	formatJSONL
)

// Logger writes rows to one file. Its methods are safe for concurrent use.
type Logger struct {
	mu      sync.Mutex
	path    string
	format  format
	columns []string // nil for JSONL with free keys, and for OpenCSV until the first row
	known   map[string]bool
	f       *os.File
	w       *bufio.Writer
}

// NewCSV creates (or truncates) path and writes the header line columns.
// Each Log call then writes one row with a cell per column.
func NewCSV(path string, columns []string) (*Logger, error) {
	if err := checkColumns(columns, formatCSV); err != nil {
		return nil, fmt.Errorf("metrics %q: %w", path, err)
	}
	l, err := create(path, formatCSV, columns)
	if err != nil {
		return nil, err
	}
	if err := l.writeCSV(columns); err != nil {
		l.f.Close()
		return nil, fmt.Errorf("metrics %q: %w", path, err)
	}
	return l, nil
}

// CSV is the Logger that OpenCSV returns.
type CSV = Logger

// OpenCSV opens the CSV log of a run that is at step resumeStep, taking the
// columns from the data instead of from the caller:
//
//   - resumeStep ≤ 0 (a fresh run) or no file: path is created (truncated),
//     and the header is written at the first Log call: StepColumn first if
//     present, then the other keys of that row sorted.
//   - otherwise the file is resumed as by ResumeCSV, with the columns of its
//     header (which must include StepColumn).
//
// Later rows may leave columns out (empty cells) but not add new ones.
func OpenCSV(path string, resumeStep int) (*CSV, error) {
	if resumeStep <= 0 {
		return create(path, formatCSV, nil)
	}
	return resume(path, formatCSV, nil, resumeStep)
}

// NewJSONL creates (or truncates) path for JSON Lines: one object per Log
// call. If columns is non-nil, keys are written in that order and any other
// key is an error; if nil, any keys are accepted and written sorted.
func NewJSONL(path string, columns []string) (*Logger, error) {
	if err := checkColumns(columns, formatJSONL); err != nil {
		return nil, fmt.Errorf("metrics %q: %w", path, err)
	}
	return create(path, formatJSONL, columns)
}

// ResumeCSV reopens a CSV file written by NewCSV for appending, after
// removing every row whose step is greater than step and any incomplete last
// line. The header must equal columns, which must include StepColumn. If the
// file does not exist it is created as by NewCSV.
func ResumeCSV(path string, columns []string, step int) (*Logger, error) {
	if !slices.Contains(columns, StepColumn) {
		return nil, fmt.Errorf("metrics %q: resuming needs a %q column, have %v", path, StepColumn, columns)
	}
	return resume(path, formatCSV, columns, step)
}

// ResumeJSONL is ResumeCSV for JSON Lines files: objects whose "step" is
// greater than step are removed, as is an incomplete last line.
func ResumeJSONL(path string, columns []string, step int) (*Logger, error) {
	if columns != nil && !slices.Contains(columns, StepColumn) {
		return nil, fmt.Errorf("metrics %q: resuming needs a %q column, have %v", path, StepColumn, columns)
	}
	return resume(path, formatJSONL, columns, step)
}

func checkColumns(columns []string, f format) error {
	if f == formatCSV && len(columns) == 0 {
		return errors.New("no columns")
	}
	seen := map[string]bool{}
	for _, c := range columns {
		if c == "" || seen[c] {
			return fmt.Errorf("empty or repeated column name %q in %v", c, columns)
		}
		seen[c] = true
	}
	return nil
}

func create(path string, f format, columns []string) (*Logger, error) {
	file, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return newLogger(path, f, columns, file), nil
}

func newLogger(path string, f format, columns []string, file *os.File) *Logger {
	l := &Logger{path: path, format: f, columns: slices.Clone(columns), f: file, w: bufio.NewWriter(file)}
	if columns != nil {
		l.known = map[string]bool{}
		for _, c := range columns {
			l.known[c] = true
		}
	}
	return l
}

func resume(path string, f format, columns []string, step int) (*Logger, error) {
	lazy := f == formatCSV && columns == nil // OpenCSV: columns from the file or the first row
	if !lazy {
		if err := checkColumns(columns, f); err != nil {
			return nil, fmt.Errorf("metrics %q: %w", path, err)
		}
	}
	data, err := regular.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		switch {
		case lazy:
			return create(path, formatCSV, nil)
		case f == formatCSV:
			return NewCSV(path, columns)
		}
		return NewJSONL(path, columns)
	}
	if err != nil {
		return nil, err
	}
	kept, changed, header, err := keepRows(data, f, columns, step)
	if err != nil {
		return nil, fmt.Errorf("metrics %q: resume at step %d: %w", path, step, err)
	}
	if lazy {
		columns = header // nil if the file had no complete header line
	}
	if changed {
		if err := atomicfile.WriteFile(path, kept, 0o644); err != nil {
			return nil, err
		}
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	l := newLogger(path, f, columns, file)
	if f == formatCSV && columns != nil && len(kept) == 0 { // the header was lost too
		if err := l.writeCSV(columns); err != nil {
			file.Close()
			return nil, fmt.Errorf("metrics %q: %w", path, err)
		}
	}
	return l, nil
}

// keepRows returns the file content without rows past step and without an
// incomplete final line, and whether anything was removed. For CSV with nil
// columns the file's header is accepted and returned as columns.
func keepRows(data []byte, f format, columns []string, step int) (kept []byte, changed bool, header []string, err error) {
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		data, changed = data[:i+1], true // half-written last line
	}
	var out bytes.Buffer
	stepCol := -1
	for n, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var s float64
		switch {
		case f == formatCSV && n == 0:
			header, err = csv.NewReader(bytes.NewReader(line)).Read()
			if err != nil {
				return nil, false, nil, fmt.Errorf("header: %w", err)
			}
			if columns == nil {
				columns = header
			}
			if !slices.Equal(header, columns) {
				return nil, false, nil, fmt.Errorf("header %v differs from columns %v; log to a new file", header, columns)
			}
			if stepCol = slices.Index(header, StepColumn); stepCol < 0 {
				return nil, false, nil, fmt.Errorf("header %v has no %q column", header, StepColumn)
			}
			out.Write(line)
			continue
		case f == formatCSV:
			rec, err := csv.NewReader(bytes.NewReader(line)).Read()
			if err != nil || len(rec) != len(columns) {
				return nil, false, nil, fmt.Errorf("line %d: malformed row %q", n+1, bytes.TrimSpace(line))
			}
			if s, err = strconv.ParseFloat(rec[stepCol], 64); err != nil {
				return nil, false, nil, fmt.Errorf("line %d: step %q is not a number", n+1, rec[stepCol])
			}
		default:
			var obj map[string]any
			if err := json.Unmarshal(line, &obj); err != nil {
				return nil, false, nil, fmt.Errorf("line %d: %v", n+1, err)
			}
			v, ok := obj[StepColumn].(float64)
			if !ok {
				return nil, false, nil, fmt.Errorf("line %d: no numeric %q", n+1, StepColumn)
			}
			s = v
		}
		if s > float64(step) {
			changed = true
			continue
		}
		out.Write(line)
	}
	return out.Bytes(), changed, header, nil
}

// Path returns the file name the logger writes to.
func (l *Logger) Path() string { return l.path }

// Log writes one row and flushes it to the file. In CSV, columns missing from
// row are left empty; NaN and ±Inf are written "NaN", "+Inf", "-Inf". In
// JSONL, missing keys are omitted and NaN or ±Inf become null (JSON has no
// such numbers). A key that is not a column is an error.
func (l *Logger) Log(row map[string]float64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("metrics %q: Log after Close", l.path)
	}
	if l.format == formatCSV && l.columns == nil {
		if err := l.setColumns(row); err != nil {
			return err
		}
	}
	if l.known != nil {
		for k := range row {
			if !l.known[k] {
				return fmt.Errorf("metrics %q: %q is not one of the columns %v", l.path, k, l.columns)
			}
		}
	}
	var err error
	if l.format == formatCSV {
		cells := make([]string, len(l.columns))
		for i, c := range l.columns {
			if v, ok := row[c]; ok {
				cells[i] = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
		err = l.writeCSV(cells)
	} else {
		err = l.writeJSON(row)
	}
	if err != nil {
		return fmt.Errorf("metrics %q: %w", l.path, err)
	}
	return nil
}

// setColumns fixes the columns of a lazy CSV from its first row and writes
// the header.
func (l *Logger) setColumns(row map[string]float64) error {
	var cols []string
	for k := range row {
		if k != StepColumn {
			cols = append(cols, k)
		}
	}
	sort.Strings(cols)
	if _, ok := row[StepColumn]; ok {
		cols = append([]string{StepColumn}, cols...)
	}
	if err := checkColumns(cols, formatCSV); err != nil {
		return fmt.Errorf("metrics %q: first row: %w", l.path, err)
	}
	if err := l.writeCSV(cols); err != nil {
		return fmt.Errorf("metrics %q: %w", l.path, err)
	}
	l.columns = cols
	l.known = map[string]bool{}
	for _, c := range cols {
		l.known[c] = true
	}
	return nil
}

func (l *Logger) writeCSV(cells []string) error {
	cw := csv.NewWriter(l.w)
	if err := cw.Write(cells); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return l.w.Flush()
}

func (l *Logger) writeJSON(row map[string]float64) error {
	keys := l.columns
	if keys == nil {
		keys = make([]string, 0, len(row))
		for k := range row {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range keys {
		v, ok := row[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b.WriteString("null")
		} else {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	b.WriteString("}\n")
	if _, err := l.w.WriteString(b.String()); err != nil {
		return err
	}
	return l.w.Flush()
}

// Close flushes and closes the file. Closing twice is harmless.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := errors.Join(l.w.Flush(), l.f.Close())
	l.f = nil
	if err != nil {
		return fmt.Errorf("metrics %q: %w", l.path, err)
	}
	return nil
}

// Table is a CSV log read back: its header and its rows, a number per
// column (NaN for an empty cell).
type Table struct {
	Columns []string
	Rows    [][]float64
}

// Column returns the values of the named column, one per row, or nil if
// the table has no such column.
func (t *Table) Column(name string) []float64 {
	i := slices.Index(t.Columns, name)
	if i < 0 {
		return nil
	}
	out := make([]float64, len(t.Rows))
	for r, row := range t.Rows {
		out[r] = row[i]
	}
	return out
}

// ReadCSV reads a CSV log as written by a Logger, while it may still be
// written: an incomplete last line is left out. Cells that are not numbers
// are an error; empty cells read as NaN.
func ReadCSV(path string) (*Table, error) {
	data, err := regular.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 != len(data) {
		data = data[:i+1] // half-written last line
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	t := &Table{}
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("metrics %q: %w", path, err)
		}
		if t.Columns == nil {
			if err := checkColumns(rec, formatCSV); err != nil {
				return nil, fmt.Errorf("metrics %q: header: %w", path, err)
			}
			t.Columns = slices.Clone(rec)
			continue
		}
		row := make([]float64, len(rec))
		for i, c := range rec {
			if c == "" {
				row[i] = math.NaN()
				continue
			}
			if row[i], err = strconv.ParseFloat(c, 64); err != nil {
				return nil, fmt.Errorf("metrics %q: line %d, column %q: %q is not a number", path, n, t.Columns[i], c)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	if t.Columns == nil {
		return nil, fmt.Errorf("metrics %q: no header", path)
	}
	return t, nil
}
