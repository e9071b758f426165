package layout

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the arrows of docs/ARCHITECTURE.md from the code")

// layerTitles head each layer in docs/ARCHITECTURE.md's arrows.
var layerTitles = []string{"foundation", "the rules' data, the contracts", "the log, the engine, accounts",
	"write side, read models, followers", "process managers, composites", "the edge", "the binaries"}

// arrows draws the imports among our packages, layer by layer, as
// docs/ARCHITECTURE.md shows them.
func arrows(pkgs map[string]*pkg) string {
	var b strings.Builder
	for i, l := range layers {
		fmt.Fprintf(&b, "# layer %d %s\n", i, layerTitles[i])
		for _, p := range l.pkgs {
			var ours []string
			if k := pkgs[p]; k != nil {
				ours = sorted(k.imports)
			}
			switch {
			case p == "cmd/doorstep":
				fmt.Fprintf(&b, "%-27s→ everything in layers 0–5 except the test helpers\n", p)
			case len(ours) == 0:
				fmt.Fprintf(&b, "%-29s(nothing of ours)\n", p)
			default:
				line := fmt.Sprintf("%-27s→ ", p)
				for j, q := range ours {
					item := q
					if j < len(ours)-1 {
						item += ","
					}
					if len(line)+1+len(item) > 100 && strings.TrimSpace(line[27:]) != "→" {
						b.WriteString(strings.TrimRight(line, " ") + "\n")
						line = strings.Repeat(" ", 29)
					}
					if !strings.HasSuffix(line, " ") {
						line += " "
					}
					line += item
				}
				b.WriteString(line + "\n")
			}
		}
	}
	return b.String()
}

// TestArchitectureDrawsTheArrows: the arrows in docs/ARCHITECTURE.md are
// the code's imports; `go test ./internal/layout -run Arrows -update`
// redraws them after a change.
func TestArchitectureDrawsTheArrows(t *testing.T) {
	pkgs := load(t)
	path := filepath.Join(root(t), "docs", "ARCHITECTURE.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start := strings.Index(s, "```\n# layer 0 ")
	if start < 0 {
		t.Fatal("docs/ARCHITECTURE.md has no block of arrows starting with \"# layer 0\"")
	}
	start += len("```\n")
	end := strings.Index(s[start:], "```\n")
	if end < 0 {
		t.Fatal("the block of arrows in docs/ARCHITECTURE.md is not closed")
	}
	end += start
	want := arrows(pkgs)
	if s[start:end] == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(s[:start]+want+s[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the arrows in docs/ARCHITECTURE.md differ from the code's imports; run go test ./internal/layout -run Arrows -update, or write:\n%s", want)
}
