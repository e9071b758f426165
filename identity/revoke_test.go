package identity

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/domain"
)

// safety bounds a wait for an event that must come; it is not a timing
// assertion (reaching it fails the test as "never happened").
const safety = 30 * time.Second

// fixedNow is a clock for the expiry tests: the tests do not depend on the
// date they run.
var fixedNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// A token revoked on node A stops authenticating on node B as soon as B
// receives A's notification, although B has it cached and its cache TTL is
// far away; so does a token whose expiry A moved into the past.
func TestPostgresTokensRevokedOnEveryNode(t *testing.T) {
	schema, _ := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	b := mustOpenPGTokens(t, schema)
	b.pg.cacheTTL = time.Hour // only the notification can make B read the row again
	b.now = func() time.Time { return fixedNow }
	notified := make(chan string, 16)
	f := func(h string) { notified <- h }
	b.pg.onNotify.Store(&f)
	select {
	case <-b.pg.listening:
	case <-time.After(safety):
		t.Fatal("B never listened")
	}
	w, err := a.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	x, err := a.CreateExpiring(ctx, Principal{Name: "王五", Role: RoleAuditor}, "admin", fixedNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{w, x} {
		if _, err := b.Authenticate(ctx, tok); err != nil {
			t.Fatalf("B before revocation: %v", err)
		}
	}
	waitNotified := func(tok string) {
		t.Helper()
		for {
			select {
			case h := <-notified:
				if h == hashToken(tok) {
					return
				}
			case <-time.After(safety):
				t.Fatal("B never received the notification")
			}
		}
	}
	if err := a.Revoke(ctx, TokenID(w), "admin"); err != nil {
		t.Fatal(err)
	}
	waitNotified(w)
	_, err = b.Authenticate(ctx, w)
	if !errors.Is(err, ErrTokenRevoked) || domain.CodeOf(err) != "token_revoked" {
		t.Fatalf("B after revocation on A: %v, want token_revoked", err)
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Message == "" || de.MessageZH == "" {
		t.Fatalf("revocation error not bilingual: %#v", err)
	}
	if _, err := a.Authenticate(ctx, w); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("A after its own revocation: %v", err)
	}
	// Expiry moved into the past (B's clock is fixedNow).
	if err := a.SetExpiry(ctx, TokenID(x), fixedNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitNotified(x)
	if _, err := b.Authenticate(ctx, x); !errors.Is(err, ErrTokenExpired) || domain.CodeOf(err) != "token_expired" {
		t.Fatalf("B after the expiry moved: %v, want token_expired", err)
	}
	// And back: clearing the expiry lets it work again.
	if err := a.SetExpiry(ctx, TokenID(x), time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitNotified(x)
	if _, err := b.Authenticate(ctx, x); err != nil {
		t.Fatalf("B after the expiry was cleared: %v", err)
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %v %v", list, err)
	}
	states := map[string]string{}
	for _, i := range list {
		states[i.Principal.Name] = i.State
	}
	if states["李四"] != "revoked" || states["王五"] != "active" {
		t.Fatalf("states = %v", states)
	}
	if err := a.Revoke(ctx, "0123456789abcdef", "admin"); !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("revoke of an unknown id: %v", err)
	}
	if err := a.Revoke(ctx, "zz; DROP", "admin"); !errors.Is(err, ErrInvalidPrincipal) || domain.CodeOf(err) != "invalid_token_id" {
		t.Fatalf("revoke of a malformed id: %v", err)
	}
}

// Issue 13 item 10, decision 0132: a token deleted from the table (or
// revoked) in SQL, by an operator's psql rather than through this package,
// stopped authenticating on a node that had it cached only when the cache
// TTL ran out. A trigger now notifies every change of a row, and a
// TRUNCATE: the node drops the token (or its whole cache) at once.
func TestPostgresTokensChangedInSQLOnEveryNode(t *testing.T) {
	schema, conn := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	b := mustOpenPGTokens(t, schema)
	b.pg.cacheTTL = time.Hour // only a notification can make B read the row again
	notified := make(chan string, 16)
	f := func(h string) { notified <- h }
	b.pg.onNotify.Store(&f)
	select {
	case <-b.pg.listening:
	case <-time.After(safety):
		t.Fatal("B never listened")
	}
	waitNotified := func(want string) {
		t.Helper()
		for {
			select {
			case h := <-notified:
				if h == want {
					return
				}
			case <-time.After(safety):
				t.Fatalf("B never received the notification %q", want)
			}
		}
	}
	tbl := pgx.Identifier{schema, "tokens"}.Sanitize()
	var toks []string
	for _, name := range []string{"李四", "王五", "赵六"} {
		tok, err := a.Create(ctx, Principal{Name: name, Role: RoleWorker, Grids: []string{"G1"}}, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, tok); err != nil {
			t.Fatalf("B before the change: %v", err)
		}
		toks = append(toks, tok)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM `+tbl+` WHERE sha256 = $1`, hashToken(toks[0])); err != nil {
		t.Fatal(err)
	}
	waitNotified(hashToken(toks[0]))
	if _, err := b.Authenticate(ctx, toks[0]); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("B after the row was deleted in SQL: %v, want unknown", err)
	}
	if _, err := conn.Exec(ctx, `UPDATE `+tbl+` SET revoked_at = now(), revoked_by = 'psql' WHERE sha256 = $1`, hashToken(toks[1])); err != nil {
		t.Fatal(err)
	}
	waitNotified(hashToken(toks[1]))
	if _, err := b.Authenticate(ctx, toks[1]); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("B after the row was revoked in SQL: %v, want revoked", err)
	}
	if _, err := conn.Exec(ctx, `TRUNCATE `+tbl); err != nil {
		t.Fatal(err)
	}
	waitNotified("*")
	if _, err := b.Authenticate(ctx, toks[2]); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("B after the table was truncated: %v, want unknown", err)
	}
}

// Should a notification be lost, the cache TTL bounds how long a revoked
// token is still accepted: with a TTL of zero, a row changed behind the
// nodes' backs (no notification) is seen at the next request.
func TestPostgresTokensCacheTTLBoundsAMissedNotification(t *testing.T) {
	schema, conn := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	a.pg.cacheTTL = 0
	w, err := a.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, w); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE `+pgx.Identifier{schema, "tokens"}.Sanitize()+` SET revoked_at = now()`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, w); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("after the row changed: %v, want revoked", err)
	}
	if _, err := conn.Exec(ctx, `DELETE FROM `+pgx.Identifier{schema, "tokens"}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, w); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("after the row was deleted: %v, want unknown", err)
	}
}

// A tokens table made before internal/migrate (by the old pgddl, without
// the expiry and revocation columns, nothing in schema_migrations) is
// adopted: its tokens keep working and can be revoked.
func TestPostgresTokensAdoptsTheOldTable(t *testing.T) {
	schema, conn := tokensSchema(t)
	ctx := context.Background()
	tbl := pgx.Identifier{schema, "tokens"}.Sanitize()
	tok, h, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE SCHEMA ` + pgx.Identifier{schema}.Sanitize(),
		`CREATE TABLE ` + tbl + ` (sha256 text PRIMARY KEY, principal jsonb NOT NULL, created_at timestamptz NOT NULL, created_by text NOT NULL DEFAULT '')`,
		`INSERT INTO ` + tbl + ` VALUES ('` + h + `', '{"name":"老管理员","role":"admin"}', now(), 'first start')`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	a := mustOpenPGTokens(t, schema)
	if p, err := a.Authenticate(ctx, tok); err != nil || p.Name != "老管理员" {
		t.Fatalf("old token: %+v %v", p, err)
	}
	if err := a.Revoke(ctx, TokenID(tok), "admin"); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT max(version) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` WHERE owner = 'identity'`).Scan(&v); err != nil || v != len(Migrations().Steps) {
		t.Fatalf("identity at version %d (%v), want %d", v, err, len(Migrations().Steps))
	}
}

// The file set shared by two processes (a server and `doorstep token`): a
// token revoked through one stops authenticating through the other at once;
// expiry works on the injected clock; revoked and expired tokens are not
// supervisors.
func TestFileTokensRevokeAndExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokensFile)
	server, err := OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	now := fixedNow
	server.now = func() time.Time { return now }
	server.fileCheckEvery = 0 // look for the CLI's changes at every call
	ctx := context.Background()
	sup, err := server.CreateExpiring(ctx, Principal{Name: "王书记", Role: RoleSupervisor, Communities: []string{"C1"}}, "admin", fixedNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	now = fixedNow.Add(time.Minute) // created after the supervisor
	w, err := server.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, w); err != nil {
		t.Fatal(err)
	}
	cli, err := OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, TokenID(w), "operator"); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, w); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("server after the CLI revoked: %v", err)
	}
	if got := server.Supervisor(ctx, "C1"); got != "王书记" {
		t.Fatalf("supervisor before expiry = %q", got)
	}
	now = fixedNow.Add(time.Hour)
	if _, err := server.Authenticate(ctx, sup); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at the expiry: %v, want expired", err)
	}
	if got := server.Supervisor(ctx, "C1"); got != "" {
		t.Fatalf("an expired token is still the supervisor: %q", got)
	}
	if err := cli.SetExpiry(ctx, TokenID(sup), fixedNow.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, sup); err != nil {
		t.Fatalf("after the CLI extended it: %v", err)
	}
	if err := cli.SetExpiry(ctx, TokenID(sup), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)); domain.CodeOf(err) != "invalid_expiry" {
		t.Fatalf("expiry in 1600: %v", err)
	}
	list, err := server.List(ctx)
	if err != nil || len(list) != 2 || list[0].Principal.Name != "王书记" || list[1].State != "revoked" || list[1].RevokedBy != "operator" {
		t.Fatalf("List: %+v %v", list, err)
	}
	for _, i := range list {
		if strings.Contains(i.ID, w) || len(i.ID) != TokenIDLen {
			t.Fatalf("bad id %q", i.ID)
		}
	}
}

// A full disk while the tokens file is written: the change is refused with
// a bilingual error, no temporary file is left behind, the file on disk and
// the set in memory are as they were (the new token does not work, the old
// ones do), and the next write, space freed, succeeds.
func TestFileTokensFullDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, TokensFile)
	toks, err := OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admin, _, err := toks.EnsureAdmin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	full := func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/2])
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	fsys.write = full
	t.Cleanup(func() { fsys.write = func(f *os.File, b []byte) (int, error) { return f.Write(b) } })
	tok, err := toks.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	var de *domain.Error
	if tok != "" || !errors.Is(err, ErrTokensNotSaved) || !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &de) || de.Message == "" || de.MessageZH == "" {
		t.Fatalf("Create on a full disk: %q %#v", tok, err)
	}
	if err := toks.Revoke(ctx, TokenID(admin), "x"); !errors.Is(err, ErrTokensNotSaved) {
		t.Fatalf("Revoke on a full disk: %v", err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s.tmp left behind: %v", TokensFile, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("the tokens file changed")
	}
	if _, err := toks.Authenticate(ctx, admin); err != nil {
		t.Fatalf("the admin token after the failed writes: %v", err)
	}
	if n := toks.Len(ctx); n != 1 {
		t.Fatalf("Len = %d", n)
	}
	fsys.write = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	tok, err = toks.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toks.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A temporary file left by a crash is removed at open.
	if err := os.WriteFile(path+".tmp", []byte("[{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenTokens(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the temporary file of a crashed write survived OpenTokens")
	}
}
