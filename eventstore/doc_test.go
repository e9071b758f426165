package eventstore_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPackageDocListsWhatExists: the package comment names every exported
// type, function, constant and variable of the package (its list is what a newcomer
// reads first).
func TestPackageDocListsWhatExists(t *testing.T) {
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = f
	}
	p, err := doc.NewFromFiles(fset, mapValues(files), "github.com/doorstep/doorstep/eventstore")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range p.Funcs {
		names = append(names, f.Name)
	}
	for _, ty := range p.Types {
		names = append(names, ty.Name)
		for _, f := range ty.Funcs {
			names = append(names, f.Name)
		}
	}
	for _, c := range p.Consts {
		names = append(names, c.Names...)
	}
	for _, v := range p.Vars {
		names = append(names, v.Names...)
	}
	if len(names) < 30 {
		t.Fatalf("found only %v: the test no longer reads the package", names)
	}
	for _, n := range names {
		if regexp.MustCompile(`\b` + n + `\b`).MatchString(p.Doc) {
			continue
		}
		t.Errorf("the package comment (store.go) does not name %s", n)
	}
}

func mapValues(m map[string]*ast.File) []*ast.File {
	out := make([]*ast.File, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	return out
}
