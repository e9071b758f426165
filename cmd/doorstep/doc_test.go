package main

import (
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"testing"
)

// TestPackageDocListsEveryCommand: the package comment (main.go) lists
// every subcommand of the table, and no other.
func TestPackageDocListsEveryCommand(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		t.Fatal("main.go has no package comment")
	}
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^\tdoorstep ([a-z]+)\b`).FindAllStringSubmatch(f.Doc.Text(), -1) {
		listed = append(listed, m[1])
	}
	var table []string
	for _, c := range commands() {
		table = append(table, c.name)
		if !slices.Contains(listed, c.name) {
			t.Errorf("the package comment does not list `doorstep %s`", c.name)
		}
	}
	for _, n := range listed {
		if !slices.Contains(table, n) {
			t.Errorf("the package comment lists `doorstep %s`, which is not a command", n)
		}
	}
	if len(table) < 10 {
		t.Fatalf("commands() has only %v", table)
	}
}
