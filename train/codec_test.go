package train

import (
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	type inner struct {
		A []int `json:"a"`
	}
	type doc struct {
		X  int   `json:"x"`
		In inner `json:"in"`
	}
	var d doc
	if err := DecodeStrict([]byte(`{"x": 1, "in": {"a": [1, 2]}}`), &d); err != nil || d.X != 1 || len(d.In.A) != 2 {
		t.Fatalf("good document: %v, %+v", err, d)
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"x": 1, "y": 2}`, `unknown field "y"`},
		{`{"x": 1} {"x": 2}`, "trailing data"},
		{`{"x": null}`, "x is null"},
		{`{"in": {"a": [1, null]}}`, "in.a[1] is null"},
		{`null`, "not a JSON object"},
		{`[1]`, "not a JSON object"},
		{`{"x": 1`, "unexpected EOF"},
	} {
		err := DecodeStrict([]byte(tc.doc), &d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestExperimentOf(t *testing.T) {
	if name, err := ExperimentOf([]byte(`{"experiment": "cifar10", "epochs": 3}`)); err != nil || name != "cifar10" {
		t.Errorf("got %q, %v", name, err)
	}
	if _, err := ExperimentOf([]byte(`{"epochs": 3}`)); err == nil {
		t.Error("a config without an experiment field was accepted")
	}
}

type provCfg struct {
	Experiment string `json:"experiment"`
	Settings
}

func (c *provCfg) ExperimentName() string { return c.Experiment }
func (c *provCfg) Validate() error        { return nil }

func TestProvenanceRoundTrip(t *testing.T) {
	cfg := &provCfg{Experiment: "x", Settings: Settings{Epochs: 3, Seed: 7}}
	plain, err := EncodeConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	made := Provenance{Version: "wakesleep v1 rev abc", Command: "wakesleep train x --seed 7"}
	resumed := []Provenance{{Version: "wakesleep v2", Command: "wakesleep train --run r --resume"}}
	b, err := EncodeConfigProvenance(cfg, made, resumed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"command": "wakesleep train x --seed 7"`) {
		t.Errorf("no command field in\n%s", b)
	}
	stripped, gotMade, gotResumed, err := SplitProvenance(b)
	if err != nil {
		t.Fatal(err)
	}
	if gotMade != made || len(gotResumed) != 1 || gotResumed[0] != resumed[0] {
		t.Errorf("provenance %+v %+v, want %+v %+v", gotMade, gotResumed, made, resumed)
	}
	// What is left decodes strictly into the same config.
	var back provCfg
	if err := DecodeStrict(stripped, &back); err != nil || back.Seed != 7 || back.Epochs != 3 {
		t.Errorf("stripped config: %v, %+v", err, back)
	}
	// A config.json without provenance (an older run's) is left as it is.
	if same, m, r, err := SplitProvenance(plain); err != nil || string(same) != string(plain) || !m.empty() || r != nil {
		t.Errorf("plain config changed: %v %+v %v", err, m, r)
	}
	// A mistyped provenance field is an error naming it.
	if _, _, _, err := SplitProvenance([]byte(`{"experiment": "x", "version": 3}`)); err == nil || !strings.Contains(err.Error(), `"version"`) {
		t.Errorf("a numeric version: got %v", err)
	}
}
