package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// doorstep webhook create / list / parked / delete on a data directory;
// a bad URL is refused with the reason in English and Chinese.
func TestWebhookCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"webhook"}, append(args, "-data", dir)...), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"selfcheck", "-data", dir}, &out, &out); err != nil {
		t.Fatalf("selfcheck: %v\n%s", err, out.String())
	}
	got, err := cmd("create", "-url", "https://receiver.example.org/hook", "-types", "visit.recorded, problem.reported", "-from", "start")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, got)
	}
	id := regexp.MustCompile(`wh_[0-9a-f]+`).FindString(got)
	if id == "" || !strings.Contains(got, "whsec_") {
		t.Fatalf("create printed no id or secret:\n%s", got)
	}
	if got, err = cmd("list"); err != nil || !strings.Contains(got, id) || strings.Contains(got, "whsec_") {
		t.Fatalf("list: %v\n%s", err, got)
	}
	if got, err = cmd("parked", "-id", id); err != nil || !strings.Contains(got, "EVENT") {
		t.Fatalf("parked: %v\n%s", err, got)
	}
	if _, err = cmd("create", "-url", "ftp://receiver.example.org/hook"); err == nil || !strings.Contains(err.Error(), "http") {
		t.Fatalf("a bad URL: %v", err)
	}
	if got, err = cmd("delete", "-id", id); err != nil {
		t.Fatalf("delete: %v\n%s", err, got)
	}
	if got, _ = cmd("list"); strings.Contains(got, id) {
		t.Fatalf("still listed after delete:\n%s", got)
	}
}
