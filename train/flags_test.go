package train

import (
	"strings"
	"testing"

	"github.com/wakesleep/wakesleep/optim"
)

func TestParseSchedule(t *testing.T) {
	got, err := parseSchedule("0.85, 9,25")
	if err != nil || got != (optim.Schedule{Factor: 0.85, Start: 9, End: 25}) {
		t.Fatalf("parseSchedule: %+v, %v", got, err)
	}
	for _, bad := range []string{"0.9", "0.9,1", "0,1,2", "1.5,1,2", "NaN,1,2", "0.9,3,2", "0.9,-1,2", "0.9,a,2"} {
		if _, err := parseSchedule(bad); err == nil || !strings.Contains(err.Error(), "lr-decay") {
			t.Errorf("parseSchedule(%q): error %v, want one naming --lr-decay", bad, err)
		}
	}
}
