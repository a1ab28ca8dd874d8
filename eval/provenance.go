package eval

import (
	"fmt"
	"io"

	"github.com/wakesleep/wakesleep/internal/buildinfo"
)

// Provenance says which build wrote a report and with which command line;
// every report's JSON and markdown carry it. The writers fill in Version
// (buildinfo.String) when it is empty; Command is the caller's.
type Provenance struct {
	Version string `json:"version,omitempty"`
	Command string `json:"command,omitempty"`
}

func (p *Provenance) stamp() {
	if p.Version == "" {
		p.Version = buildinfo.String()
	}
}

// rows writes the provenance as rows of a two-column markdown table.
func (p Provenance) rows(w io.Writer) {
	fmt.Fprintf(w, "| build | %s |\n", p.Version)
	if p.Command != "" {
		fmt.Fprintf(w, "| command | `%s` |\n", p.Command)
	}
}
