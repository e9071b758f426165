package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// all declares every feature.
func all() Features {
	var f Features
	v := reflect.ValueOf(&f).Elem()
	for i := 0; i < v.NumField(); i++ {
		v.Field(i).SetBool(true)
	}
	return f
}

// TestCoreFeaturesAreNotOptional: a backend that leaves out any feature of
// the core contract fails DeclaredFeatures, whatever else it declares.
func TestCoreFeaturesAreNotOptional(t *testing.T) {
	if p := all().problems(); len(p) != 0 {
		t.Fatalf("every feature declared: problems %q, want none", p)
	}
	if p := (Features{}).problems(); len(p) != len(coreFeatures) {
		t.Fatalf("no feature declared: problems %q, want one per core feature (%d)", p, len(coreFeatures))
	}
	for _, core := range coreFeatures {
		f := all()
		reflect.ValueOf(&f).Elem().FieldByName(core).SetBool(false)
		p := f.problems()
		if len(p) != 1 || !strings.Contains(p[0], "declares no "+core+":") || !strings.Contains(p[0], "not optional") {
			t.Errorf("every feature but %s declared: problems %q, want one naming it", core, p)
		}
	}
	// The core contract alone is a valid declaration.
	if p := (Features{Append: true, ReadStream: true, ReadAll: true, ExpectedVersion: true}).problems(); len(p) != 0 {
		t.Fatalf("core features only: problems %q, want none", p)
	}
}

// TestFeaturesBuildOn: an optional feature declared without the one it
// builds on is an inconsistent declaration.
func TestFeaturesBuildOn(t *testing.T) {
	for feature, base := range buildsOn {
		f := all()
		reflect.ValueOf(&f).Elem().FieldByName(base).SetBool(false)
		p := f.problems()
		if len(p) != 1 || !strings.Contains(p[0], "declares "+feature+" but no "+base) {
			t.Errorf("%s without %s: problems %q", feature, base, p)
		}
	}
}

// TestEveryFeatureGatesACase: every field of Features is a bool, every
// optional one gates a case or a part of one (no flag gates nothing), and
// no case or part needs a core feature or a name that is not a field.
func TestEveryFeatureGatesACase(t *testing.T) {
	core := make(map[string]bool)
	for _, name := range coreFeatures {
		core[name] = true
	}
	needed := make(map[string]bool)
	check := func(where, name string) {
		t.Helper()
		if core[name] {
			t.Errorf("%s needs core feature %s: the core contract is never skipped", where, name)
		}
		if _, ok := reflect.TypeOf(Features{}).FieldByName(name); !ok {
			t.Errorf("%s needs %s, which is not a field of Features", where, name)
		}
		needed[name] = true
	}
	for _, tc := range cases {
		for _, name := range tc.needs {
			check("case "+tc.name, name)
		}
	}
	// The parts of cases: part(t, ft, "Feature", "Name", fn) in the suite's source.
	file, err := parser.ParseFile(token.NewFileSet(), "storetest.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := 0
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "part" {
			return true
		}
		lit, ok := call.Args[2].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("part called with a feature that is not a string literal")
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		check("a part", name)
		parts++
		return true
	})
	if parts == 0 {
		t.Fatal("found no part calls in storetest.go")
	}
	typ := reflect.TypeOf(Features{})
	for i := 0; i < typ.NumField(); i++ {
		fld := typ.Field(i)
		if fld.Type.Kind() != reflect.Bool {
			t.Errorf("Features.%s is a %s, want bool", fld.Name, fld.Type)
		}
		if !core[fld.Name] && !needed[fld.Name] {
			t.Errorf("feature %s gates no case and no part", fld.Name)
		}
	}
	for _, name := range coreFeatures {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("core feature %s is not a field of Features", name)
		}
	}
}

// TestNeedsSkipsVisibly: a case needing an undeclared feature is skipped
// with the one message the suite uses.
func TestNeedsSkipsVisibly(t *testing.T) {
	var skipped bool
	t.Run("probe", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		needs(t, Features{}, "Subscribe")
		t.Error("needs did not skip")
	})
	if !skipped {
		t.Fatal("probe was not skipped")
	}
}
