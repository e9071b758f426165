package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/identity"
)

// doorstep token list / revoke / expire on the tokens file of a data
// directory, as an operator runs them next to a server: the server's set
// (opened before) sees each change at once.
func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	server, err := identity.OpenTokens(filepath.Join(dir, identity.TokensFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, _, err := server.EnsureAdmin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, err := server.Create(ctx, identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"token"}, append(args, "-data", dir)...), &out, &errOut)
		return out.String(), err
	}
	out, err := cmd("list")
	if err != nil || !strings.Contains(out, identity.TokenID(w)) || !strings.Contains(out, identity.TokenID(admin)) || strings.Contains(out, w) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err := cmd("revoke", identity.TokenID(w)); err != nil {
		t.Fatal(err)
	}
	// The server looks for changes every identity.FileCheckInterval: wait
	// for it to see this one.
	waitFor(t, time.Minute, "the server refuses the revoked token", func() (bool, string) {
		_, err := server.Authenticate(ctx, w)
		return errors.Is(err, identity.ErrTokenRevoked), fmt.Sprint(err)
	})
	if _, err := cmd("expire", identity.TokenID(admin), "-at", "2001-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the server refuses the expired token", func() (bool, string) {
		_, err := server.Authenticate(ctx, admin)
		return errors.Is(err, identity.ErrTokenExpired), fmt.Sprint(err)
	})
	if _, err := cmd("expire", identity.TokenID(admin), "-at", "never"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the server accepts the token again", func() (bool, string) {
		_, err := server.Authenticate(ctx, admin)
		return err == nil, fmt.Sprint(err)
	})
	out, _ = cmd("list")
	if !strings.Contains(out, "revoked") || !strings.Contains(out, "active") {
		t.Fatalf("list after the changes:\n%s", out)
	}
	for _, bad := range [][]string{{"revoke"}, {"expire", identity.TokenID(admin)}, {"expire", identity.TokenID(admin), "-at", "tomorrow"}, {"drop"}} {
		if _, err := cmd(bad...); err == nil {
			t.Errorf("token %v: no error", bad)
		}
	}
	if _, err := cmd("revoke", "0123456789abcdef"); !errors.Is(err, identity.ErrTokenNotFound) {
		t.Errorf("revoke of an unknown id: %v", err)
	}
	var out2, errOut bytes.Buffer
	if err := run(ctx, []string{"token", "list", "-data", t.TempDir()}, &out2, &errOut); err == nil || !strings.Contains(err.Error(), "no tokens file") {
		t.Errorf("list without a tokens file: %v", err)
	}
}
