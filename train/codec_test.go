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
