package http

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/syncbuf"
)

// Issue 13 item 14: a full disk during token creation answered 500 and
// left tokens.json.tmp beside the tokens file. The disk here is really
// full for that one file: tokens.json.tmp is a link to /dev/full, where
// every write fails with ENOSPC, as the server's write of the new set
// does. The answer is a bilingual 503 tokens_not_saved that does not show
// the cause; no temporary file is left; the new token does not exist and
// the file is unchanged; once the disk has room again the same request
// succeeds.
func TestTokenCreationOnAFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Fatalf("this test writes to /dev/full, a Linux device that is always full: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, identity.TokensFile)
	toks, err := identity.OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := toks.EnsureAdmin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	e := newEnv(t, func(d *Deps) {
		d.Tokens = toks
		d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.Symlink("/dev/full", tmp); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"name": "李四", "role": "worker", "grids": []string{"G1"}}
	r := e.do("POST", "/v1/tokens", admin, body)
	if r.status != 503 {
		t.Fatalf("token creation on a full disk: %d %s, want 503", r.status, r.body)
	}
	p := r.problem(t)
	if p.Code != "tokens_not_saved" || p.MessageEN == "" || !hanIn(p.MessageZH) || strings.Contains(string(r.body), "/dev/full") || strings.Contains(string(r.body), dir) {
		t.Fatalf("token creation on a full disk: %s", r.body)
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s left behind: %v", filepath.Base(tmp), err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("the tokens file changed")
	}
	if n := toks.Len(context.Background()); n != 1 {
		t.Fatalf("%d tokens after the refused creation, want the admin's only", n)
	}
	if !strings.Contains(logs.String(), "no space left on device") {
		t.Fatalf("the cause is not in the log: %.500s", logs.String())
	}
	r = e.do("POST", "/v1/tokens", admin, body)
	if r.status != 201 {
		t.Fatalf("token creation with room again: %d %s", r.status, r.body)
	}
}
