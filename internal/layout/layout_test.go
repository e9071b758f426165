package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/doorstep/doorstep"

// layers places every package of the module (its path below the module).
// A package imports only packages of lower layers. To add a package, put it
// in the lowest layer above everything it imports; to add an import that
// this refuses, first ask whether the arrow points inward (decision 0064).
var layers = []struct {
	name string
	pkgs []string
}{
	{"foundation: the rules and helpers that import nothing of ours", []string{
		"domain", "internal/clock", "internal/migrate", "internal/syncbuf", "internal/pgtest",
		"leader", "console", "eventstore/esdb/esdbtest", "internal/layout"}},
	{"the rules' data and the contracts beside them", []string{
		"domain/calendar", "coverage", "eventstore", "keystore", "identity", "internal/loadtest"}},
	{"the log: codec and fold, backends, chains; the engine; accounts", []string{
		"eventlog", "eventstore/sqlite", "eventstore/postgres", "eventstore/esdb", "eventstore/copylog",
		"eventstore/storetest", "logchain", "cloudevent", "account", "projections",
		"internal/brokertest", "internal/latbench"}},
	{"the write side, the read models, followers of the log", []string{
		"command", "accesslog", "projections/alerts", "projections/audit", "projections/coverage", "projections/flags",
		"projections/measures", "projections/profile", "projections/rectifications", "projections/relief",
		"projections/worklist", "town", "relay", "cursor", "internal/testenv"}},
	{"process managers and what composes the layers below", []string{
		"deadline", "rectification", "retention", "periodclose", "eventschema", "sidestores", "webhook",
		"projections/readmodels"}},
	{"the edge", []string{"http", "internal/sim"}},
	{"the binaries", []string{"cmd/doorstep", "scripts/consoleload"}},
}

// testHelpers serve tests; code that ships does not import them (other
// test helpers, and packages below a test helper's folder, such as a test
// server's binary, may).
var testHelpers = []string{"internal/pgtest", "internal/testenv", "internal/sim", "internal/brokertest",
	"internal/latbench", "internal/syncbuf", "eventstore/storetest", "eventstore/esdb/esdbtest", "internal/layout"}

// isTestHelper reports whether p is a test helper or lies below one's
// folder.
func isTestHelper(p string) bool {
	return slices.ContainsFunc(testHelpers, func(h string) bool { return p == h || strings.HasPrefix(p, h+"/") })
}

type pkg struct {
	path    string              // below the module: "eventstore/sqlite"
	name    string              // the package clause's name ("main" for a binary)
	imports map[string][]string // our imports (below the module) -> files importing them
	files   map[string]*ast.File
}

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !strings.Contains(string(b), "module "+module+"\n") {
		t.Fatalf("%s is not the module %s: %v", dir, module, err)
	}
	return dir
}

// load parses every non-test Go file of the module.
func load(t *testing.T) map[string]*pkg {
	t.Helper()
	base := root(t)
	fset := token.NewFileSet()
	pkgs := map[string]*pkg{}
	err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if p != base && (n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, filepath.Dir(p))
		rel = filepath.ToSlash(rel)
		k := pkgs[rel]
		if k == nil {
			k = &pkg{path: rel, imports: map[string][]string{}, files: map[string]*ast.File{}}
			pkgs[rel] = k
		}
		name, _ := filepath.Rel(base, p)
		k.files[filepath.ToSlash(name)] = f
		k.name = f.Name.Name
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if ours, ok := strings.CutPrefix(ip, module+"/"); ok {
				k.imports[ours] = append(k.imports[ours], filepath.ToSlash(name))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 40 {
		t.Fatalf("found only %d packages under %s: the walk is wrong", len(pkgs), base)
	}
	return pkgs
}

func sorted[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestArrowsPointInward: every package has a layer and imports only lower
// layers, so there is no cycle and no upward import.
func TestArrowsPointInward(t *testing.T) {
	pkgs := load(t)
	layer := map[string]int{}
	for i, l := range layers {
		for _, p := range l.pkgs {
			if _, dup := layer[p]; dup {
				t.Errorf("%s is in two layers", p)
			}
			layer[p] = i
		}
	}
	for _, p := range sorted(pkgs) {
		if _, ok := layer[p]; !ok && pkgs[p].name == "main" {
			layer[p] = len(layers) - 1 // a binary not listed: the binaries' layer
		}
		if _, ok := layer[p]; !ok {
			t.Errorf("package %s has no layer: add it to layers in internal/layout/layout_test.go, in the lowest layer above everything it imports", p)
		}
	}
	for _, p := range sorted(layer) {
		if _, ok := pkgs[p]; !ok {
			t.Errorf("layers names %s, which is not a package of the module (moved or deleted?)", p)
		}
	}
	for _, p := range sorted(pkgs) {
		lp, ok := layer[p]
		if !ok {
			continue
		}
		for _, q := range sorted(pkgs[p].imports) {
			lq, ok := layer[q]
			if ok && lq >= lp {
				t.Errorf("%s (layer %d, %s) imports %s (layer %d, %s) in %v: arrows must point to a lower layer",
					p, lp, layers[lp].name, q, lq, layers[lq].name, pkgs[p].imports[q])
			}
		}
	}
}

// TestNamedRules checks the rules decision 0064 names, whatever the layers.
func TestNamedRules(t *testing.T) {
	pkgs := load(t)
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for _, p := range sorted(pkgs) {
		for _, q := range sorted(pkgs[p].imports) {
			files := pkgs[p].imports[q]
			switch {
			case p == "domain":
				t.Errorf("domain imports %s (%v): domain imports nothing of ours", q, files)
			case p == "eventstore" && q != "domain":
				t.Errorf("the eventstore contract imports %s (%v): it may import only domain", q, files)
			case under(p, "eventstore") && p != "eventstore" && under(q, "eventstore") && q != "eventstore" &&
				!under(q, p) && !under(p, q):
				t.Errorf("backend %s imports its sibling %s (%v)", p, q, files)
			case under(p, "projections") && (q == "command" || q == "http" || q == "deadline" || q == "periodclose" ||
				q == "rectification" || q == "retention"):
				t.Errorf("read side %s imports %s (%v): the read side never imports the write side, a process manager or the edge", p, q, files)
			case (under(q, "cmd") || under(q, "scripts") || q == "http" || q == "console") && !under(p, "cmd"):
				t.Errorf("%s imports %s (%v): only the binary imports the edge", p, q, files)
			case slices.Contains(testHelpers, q) && !isTestHelper(p):
				t.Errorf("%s imports the test helper %s in code that ships (%v)", p, q, files)
			}
		}
	}
}

// envelopeFields are the fields of eventstore.Metadata a domain event's
// envelope carries beside time, actor and role: only eventlog.Envelope sets
// them (a backend reading its own storage back is not building one).
var envelopeFields = []string{"CommandID", "CorrelationID", "CausationID", "Community", "Grid", "KeyID"}

// TestOneEnvelopeOneFold: a domain event's envelope is built, and a stream
// folded into an aggregate, in eventlog only.
func TestOneEnvelopeOneFold(t *testing.T) {
	pkgs := load(t)
	var envelopes, folds []string
	for _, p := range sorted(pkgs) {
		for _, name := range sorted(pkgs[p].files) {
			f := pkgs[p].files[name]
			local := map[string]string{} // import name in this file -> our path
			for _, im := range f.Imports {
				ip, _ := strconv.Unquote(im.Path.Value)
				ours, ok := strings.CutPrefix(ip, module+"/")
				if !ok {
					continue
				}
				n := ours[strings.LastIndex(ours, "/")+1:]
				if im.Name != nil {
					n = im.Name.Name
				}
				local[n] = ours
			}
			is := func(e ast.Expr, path, sel string) bool {
				s, ok := e.(*ast.SelectorExpr)
				if !ok || s.Sel.Name != sel {
					return false
				}
				x, ok := s.X.(*ast.Ident)
				return ok && local[x.Name] == path
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					if !is(n.Type, "eventstore", "Metadata") {
						return true
					}
					for _, el := range n.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						if k, ok := kv.Key.(*ast.Ident); ok && slices.Contains(envelopeFields, k.Name) {
							envelopes = append(envelopes, name)
							break
						}
					}
				case *ast.CallExpr:
					if is(n.Fun, "domain", "Fold") {
						folds = append(folds, name)
					}
				}
				return true
			})
		}
	}
	ok := func(name string) bool {
		return strings.HasPrefix(name, "eventlog/") || strings.HasPrefix(name, "eventstore/")
	}
	for _, n := range envelopes {
		if !ok(n) {
			t.Errorf("%s sets a domain envelope's fields in an eventstore.Metadata literal: build it with eventlog.Envelope", n)
		}
	}
	for _, n := range folds {
		if !strings.HasPrefix(n, "eventlog/") {
			t.Errorf("%s calls domain.Fold: fold a stream with eventlog (Load, Fold, FoldDecoded or Step)", n)
		}
	}
	if !slices.ContainsFunc(envelopes, func(n string) bool { return strings.HasPrefix(n, "eventlog/") }) ||
		!slices.ContainsFunc(folds, func(n string) bool { return strings.HasPrefix(n, "eventlog/") }) {
		t.Fatalf("eventlog builds no envelope or folds nothing (envelopes in %v, folds in %v): this test no longer sees the code", envelopes, folds)
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocumentLinks: every local link of README.md, BENCHMARKS.md and the
// documents under docs/ names a file or directory of the repository.
func TestDocumentLinks(t *testing.T) {
	base := root(t)
	docs := []string{"README.md", "BENCHMARKS.md"}
	more, _ := filepath.Glob(filepath.Join(base, "docs", "*.md"))
	decisions, _ := filepath.Glob(filepath.Join(base, "docs", "decisions", "*.md"))
	for _, m := range append(more, decisions...) {
		rel, _ := filepath.Rel(base, m)
		docs = append(docs, rel)
	}
	if len(docs) < 20 {
		t.Fatalf("found only %v: the documents moved", docs)
	}
	links := 0
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(base, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			links++
			if _, err := os.Stat(filepath.Join(base, filepath.Dir(d), target)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", d, m[1])
			}
		}
	}
	if links < 50 {
		t.Fatalf("found only %d local links: this test no longer reads the documents", links)
	}
}

// detached lists the files of code that ships which may start from
// context.Background(): none runs I/O for one caller. Everywhere else,
// ctx comes from the caller (issue 12 item 5); cleanup after the caller's
// ctx ended uses context.WithoutCancel(ctx).
var detached = map[string]string{
	"eventstore/postgres/writer.go":  "a group commit writes several callers' appends: bounded by Config.WriteTimeout, each caller's ctx checked before",
	"eventstore/postgres/horizon.go": "the store's own goroutine asking for the xmin horizon, bounded by Config.VisibilityWait",
	"eventstore/sqlite/sqlite.go":    "the store's one writer goroutine commits several callers' appends; each caller's ctx is checked before",
	"internal/migrate/migrate.go":    "rolling back a transaction whose ctx may have ended",
	"http/server.go":                 "New has no ctx: the root of the server's event streams, ended by shutdown",
}

// TestContextFromTheCaller: code that ships does not invent a context.
func TestContextFromTheCaller(t *testing.T) {
	pkgs := load(t)
	found := map[string]bool{}
	for _, p := range sorted(pkgs) {
		if pkgs[p].name == "main" || isTestHelper(p) {
			continue
		}
		for _, name := range sorted(pkgs[p].files) {
			ast.Inspect(pkgs[p].files[name], func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				s, ok := c.Fun.(*ast.SelectorExpr)
				if !ok || (s.Sel.Name != "Background" && s.Sel.Name != "TODO") {
					return true
				}
				if x, ok := s.X.(*ast.Ident); ok && x.Name == "context" {
					found[name] = true
					if _, ok := detached[name]; !ok {
						t.Errorf("%s calls context.%s(): take ctx from the caller (or context.WithoutCancel(ctx) for cleanup), or add the file to detached with the reason", name, s.Sel.Name)
					}
				}
				return true
			})
		}
	}
	for _, name := range sorted(detached) {
		if !found[name] {
			t.Errorf("detached lists %s, which no longer calls context.Background(): remove it", name)
		}
	}
}
