package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wakesleep/wakesleep/internal/regular"
	"sort"
	"strconv"
	"strings"

	"github.com/wakesleep/wakesleep/internal/atomicfile"
)

// The one config codec of every experiment. A config is written as indented
// JSON, atomically; it is read strictly: unknown fields, trailing data and
// nulls are refused (a null would silently leave a field at its zero value),
// and every error names the file.

// EncodeConfig returns cfg as indented JSON with a final newline.
func EncodeConfig(cfg Config) ([]byte, error) {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// SaveConfig writes cfg to path atomically (temporary file, fsync, rename),
// so that a crash leaves the old file or the new one.
func SaveConfig(path string, cfg Config) error {
	return SaveConfigProvenance(path, cfg, Provenance{}, nil)
}

// Provenance says which build made a run, and with which command line. A
// run's config.json records it beside the config, as the top-level fields
// "version" and "command" (and "resumed", one entry for each resume); it is
// not part of the config: decoding drops it, a resume need not match it, and
// a config.json without it (an older run's) reads the same.
type Provenance struct {
	Version string `json:"version,omitempty"` // buildinfo.String()
	Command string `json:"command,omitempty"` // the command line, shell-quoted
}

func (p Provenance) empty() bool { return p == Provenance{} }

// provenanceKeys are the top-level fields of config.json that are provenance.
var provenanceKeys = []string{"version", "command", "resumed"}

// EncodeConfigProvenance is EncodeConfig with the provenance fields after
// the config's own (none that are empty).
func EncodeConfigProvenance(cfg Config, made Provenance, resumed []Provenance) ([]byte, error) {
	b, err := EncodeConfig(cfg)
	if err != nil {
		return nil, err
	}
	var extra []string
	add := func(key string, v any) error {
		j, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		extra = append(extra, fmt.Sprintf("  %q: %s", key, j))
		return nil
	}
	if made.Version != "" {
		if err := add("version", made.Version); err != nil {
			return nil, err
		}
	}
	if made.Command != "" {
		if err := add("command", made.Command); err != nil {
			return nil, err
		}
	}
	if len(resumed) > 0 {
		if err := add("resumed", resumed); err != nil {
			return nil, err
		}
	}
	if len(extra) == 0 {
		return b, nil
	}
	body := bytes.TrimRight(b, "\n")
	if !bytes.HasSuffix(body, []byte("}")) {
		return nil, errors.New("config does not encode as a JSON object")
	}
	body = bytes.TrimRight(body[:len(body)-1], " \n")
	sep := ",\n"
	if bytes.HasSuffix(body, []byte("{")) {
		sep = "\n"
	}
	out := append(append([]byte{}, body...), sep+strings.Join(extra, ",\n")+"\n}\n"...)
	return out, nil
}

// SaveConfigProvenance writes cfg and its provenance to path atomically.
func SaveConfigProvenance(path string, cfg Config, made Provenance, resumed []Provenance) error {
	b, err := EncodeConfigProvenance(cfg, made, resumed)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// SplitProvenance separates a config.json's provenance fields from its
// config: it returns the config's JSON without them (b itself when it has
// none), the run's provenance and that of its resumes.
func SplitProvenance(b []byte) (cfg []byte, made Provenance, resumed []Provenance, err error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil {
		return b, made, nil, nil // the strict decoder reports what is wrong
	}
	found := false
	for _, k := range provenanceKeys {
		v, ok := fields[k]
		if !ok {
			continue
		}
		found = true
		delete(fields, k)
		var err error
		switch k {
		case "version":
			err = json.Unmarshal(v, &made.Version)
		case "command":
			err = json.Unmarshal(v, &made.Command)
		default:
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.DisallowUnknownFields()
			err = dec.Decode(&resumed)
		}
		if err != nil {
			return nil, made, nil, fmt.Errorf("provenance field %q: %w", k, err)
		}
	}
	if !found {
		return b, made, nil, nil
	}
	cfg, err = json.Marshal(fields)
	return cfg, made, resumed, err
}

// ReadProvenance returns the provenance recorded in a run's config.json.
func ReadProvenance(path string) (made Provenance, resumed []Provenance, err error) {
	b, err := regular.ReadFile(path)
	if err != nil {
		return made, nil, err
	}
	_, made, resumed, err = SplitProvenance(b)
	if err != nil {
		err = fmt.Errorf("read config %q: %w", path, err)
	}
	return made, resumed, err
}

// DecodeStrict decodes one JSON object from b into v, refusing unknown
// fields, trailing data and nulls.
func DecodeStrict(b []byte, v any) error {
	var tree any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	if _, ok := tree.(map[string]any); !ok {
		return errors.New("not a JSON object")
	}
	if p := nullAt(tree, ""); p != "" {
		return fmt.Errorf("%s is null", p)
	}
	dec = json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// nullAt returns the path of the first null in a decoded JSON tree (keys in
// sorted order), or "".
func nullAt(v any, path string) string {
	switch v := v.(type) {
	case nil:
		if path == "" {
			return "the document"
		}
		return path
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s := nullAt(v[k], p); s != "" {
				return s
			}
		}
	case []any:
		for i, e := range v {
			if s := nullAt(e, path+"["+strconv.Itoa(i)+"]"); s != "" {
				return s
			}
		}
	}
	return ""
}

// ExperimentOf returns the "experiment" field of a config's JSON.
func ExperimentOf(b []byte) (string, error) {
	var head struct {
		Experiment *string `json:"experiment"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return "", err
	}
	if head.Experiment == nil {
		return "", errors.New(`no "experiment" field`)
	}
	return *head.Experiment, nil
}

// DecodeConfig decodes a config of ex strictly from b and validates it;
// where names the file (or checkpoint) in errors.
func DecodeConfig(ex Experiment, b []byte, where string) (Config, error) {
	b, _, _, err := SplitProvenance(b)
	if err != nil {
		return nil, fmt.Errorf("read config %q: %w", where, err)
	}
	cfg := ex.NewConfig()
	if err := DecodeStrict(b, cfg); err != nil {
		return nil, fmt.Errorf("read config %q: %w", where, err)
	}
	if name := cfg.ExperimentName(); name != ex.Name() {
		return nil, fmt.Errorf("config %q: experiment %q is not %q", where, name, ex.Name())
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %q: %w", where, err)
	}
	return cfg, nil
}

// ReadConfigFile returns the bytes of a config file and the experiment it
// names.
func ReadConfigFile(path string) ([]byte, string, error) {
	b, err := regular.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	name, err := ExperimentOf(b)
	if err != nil {
		return nil, "", fmt.Errorf("read config %q: %w", path, err)
	}
	return b, name, nil
}

// agree reports where the config of a run folder (config.json at cfgPath)
// differs from the one saved in its checkpoint at ckptPath, but for the
// number of epochs (which a resume may change): a hand-edited seed or
// learning rate that would otherwise be trained on without a word.
func agree(ex Experiment, saved Config, cfgPath string, meta map[string]string, ckptPath string) error {
	s, ok := meta[metaConfig]
	if !ok {
		return fmt.Errorf("%s has no %s entry: not a wakesleep training checkpoint", ckptPath, metaConfig)
	}
	if name, err := ExperimentOf([]byte(s)); err != nil || name != ex.Name() {
		return fmt.Errorf("%s holds another experiment than %s (%q, %v)", ckptPath, cfgPath, name, err)
	}
	inCkpt, err := DecodeConfig(ex, []byte(s), ckptPath)
	if err != nil {
		return err
	}
	a, err := flatConfig(saved)
	if err != nil {
		return err
	}
	b, err := flatConfig(inCkpt)
	if err != nil {
		return err
	}
	var diffs []string
	for _, k := range sortedKeys(a, b) {
		if k == "epochs" || a[k] == b[k] {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("%s %s in %s, %s in the checkpoint", k, orNone(a[k]), ConfigFile, orNone(b[k])))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s disagrees with %s: %s; a run continues only with its checkpoint's config: restore %s, or start a new run", cfgPath, ckptPath, strings.Join(diffs, "; "), ConfigFile)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// flatConfig returns cfg's JSON as leaf paths ("network_adam.learning_rate")
// and their JSON values.
func flatConfig(cfg Config) (map[string]string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(x, p)
			}
			return
		}
		j, _ := json.Marshal(v)
		out[path] = string(j)
	}
	walk(tree, "")
	return out, nil
}

func sortedKeys(ms ...map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
