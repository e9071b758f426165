package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
)

// TestUserAndTokenCommandsOnPostgres runs `doorstep user` and `doorstep
// token` on the PostgreSQL tables, each command on one pool of its own
// (toolPool): a user is added, their session and another token are
// listed, disabling the user ends the session and only it, and the other
// token is revoked.
func TestUserAndTokenCommandsOnPostgres(t *testing.T) {
	pg, _, schema := sharedSchema(t, "tools")
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(ctx, append(args, "-store", pg, "-store-schema", schema), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd("user", "add", "alice", "-name", "Alice", "-role", "worker", "-grids", "G1", "-password-file", pw); err != nil || !strings.Contains(out, "user added") {
		t.Fatalf("user add: %v\n%s", err, out)
	}

	// The server's side of the same tables: a session of alice's (as
	// POST /v1/session creates it) and an integrator's token.
	pool, err := pgxpool.New(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	toks, err := identity.NewPostgresTokens(ctx, pool, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer toks.Close()
	session, err := toks.CreateExpiring(ctx, identity.Principal{Name: "Alice", Role: identity.RoleWorker, Grids: []string{"G1"}}, "sign-in:alice", clock.Now().Add(time.Hour)) // the tools read clock.Now (shifted in scripts/test)
	if err != nil {
		t.Fatal(err)
	}
	other, err := toks.Create(ctx, identity.Principal{Name: "feed", Role: identity.RoleIntegrator}, "admin")
	if err != nil {
		t.Fatal(err)
	}

	out, err := cmd("token", "list")
	if err != nil || !strings.Contains(out, identity.TokenID(session)) || !strings.Contains(out, identity.TokenID(other)) || strings.Contains(out, session) {
		t.Fatalf("token list: %v\n%s", err, out)
	}
	if out, err := cmd("user", "disable", "alice"); err != nil || !strings.Contains(out, "sessions ended") {
		t.Fatalf("user disable: %v\n%s", err, out)
	}
	state := func() map[string]string {
		list, err := toks.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, ti := range list {
			m[ti.ID] = ti.State
		}
		return m
	}
	if s := state(); s[identity.TokenID(session)] != "revoked" || s[identity.TokenID(other)] != "active" {
		t.Fatalf("after user disable: %v; want the session revoked and the other token active", s)
	}
	if out, err := cmd("token", "revoke", identity.TokenID(other)); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke: %v\n%s", err, out)
	}
	if s := state(); s[identity.TokenID(other)] != "revoked" {
		t.Fatalf("after token revoke: %v", s)
	}
	if out, err := cmd("user", "list"); err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "disabled") {
		t.Fatalf("user list: %v\n%s", err, out)
	}

	// keys rotate-kek opens the data-key table on a pool of its own, then
	// the runtime (for the webhook secrets) on another, one after the other.
	dir := t.TempDir()
	es, err := postgres.Open(ctx, postgres.Config{Pool: pool, Schema: schema}) // the store the runtime expects
	if err != nil {
		t.Fatal(err)
	}
	es.Close()
	oldKEK, newKEK := filepath.Join(dir, "old.kek"), filepath.Join(dir, "new.kek")
	for _, f := range []string{oldKEK, newKEK} {
		var o, e bytes.Buffer
		if err := run(ctx, []string{"keys", "new-kek", "-o", f}, &o, &e); err != nil {
			t.Fatalf("keys new-kek: %v\n%s", err, e.String())
		}
	}
	if out, err := cmd("keys", "rotate-kek", "-data", dir, "-kek-file", newKEK, "-kek-old-file", oldKEK); err != nil || !strings.Contains(out, "rewrapped 0 data keys") {
		t.Fatalf("keys rotate-kek: %v\n%s", err, out)
	}

	// An unreachable server is a clear error, with no password in it.
	var o, e bytes.Buffer
	err = run(ctx, []string{"token", "list", "-store", "postgres://someone:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}, &o, &e)
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("token list on an unreachable server: %v", err)
	}
}
