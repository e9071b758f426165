package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// These tests run against the real PostgreSQL server of the machine
// (pgtest.SharedURL). They fail, never skip, when it is
// down. Each test works in a fresh schema of its own, dropped afterwards.

// tokensSchema returns a schema name no one uses yet (not created) and a
// connection to inspect it; the schema is dropped when the test ends, after
// the token sets opened later are closed.
func tokensSchema(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "tokens_test_" + hex.EncodeToString(b)
	conn := pgtest.Connect(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema, conn
}

// openPGTokens opens a token set ("a node") on schema, closed at cleanup.
// Safe to call from several goroutines.
func openPGTokens(t *testing.T, schema string) (*Tokens, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	toks, err := OpenPostgresTokens(ctx, pgtest.SharedURL(), schema)
	if err != nil {
		return nil, err
	}
	t.Cleanup(toks.Close)
	return toks, nil
}

func mustOpenPGTokens(t *testing.T, schema string) *Tokens {
	t.Helper()
	toks, err := openPGTokens(t, schema)
	if err != nil {
		t.Fatalf("open PostgreSQL tokens: %v", err)
	}
	return toks
}

func tokenRows(t *testing.T, conn *pgx.Conn, schema string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+schema+`.tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// authenticate reports whether token authenticates on toks, and as whom.
func authenticate(toks *Tokens, token string) (Principal, bool) {
	p, err := toks.Authenticate(context.Background(), token)
	return p, err == nil
}

// pgTokensTimeout bounds how long the calls without the database may take
// together (the callers, such as http, bound each call by their context).
const pgTokensTimeout = 5 * time.Second

// Eight nodes start at once on an empty database: the schema is created
// once without error, exactly one admin token is created, and it works on
// every node.
func TestPostgresTokensOneAdminForEightNodes(t *testing.T) {
	schema, conn := tokensSchema(t)
	const nodes = 8
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		toks    [nodes]*Tokens
		tokens  [nodes]string
		created [nodes]bool
		errs    [nodes]error
	)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			toks[i], errs[i] = openPGTokens(t, schema)
			if errs[i] != nil {
				return
			}
			tokens[i], created[i], errs[i] = toks[i].EnsureAdmin(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	var admin string
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if created[i] {
			if admin != "" {
				t.Fatalf("node %d created a second admin token", i)
			}
			admin = tokens[i]
		} else if tokens[i] != "" {
			t.Errorf("node %d returned a token without creating it", i)
		}
	}
	if admin == "" {
		t.Fatal("no node created the admin token")
	}
	if n := tokenRows(t, conn, schema); n != 1 {
		t.Fatalf("%d rows in the table, want 1", n)
	}
	for i := range nodes {
		p, ok := authenticate(toks[i], admin)
		if !ok || p.Role != RoleAdmin || p.Name != "admin" || !p.Sensitive {
			t.Errorf("node %d: admin token: %+v %v", i, p, ok)
		}
		if n := toks[i].Len(context.Background()); n != 1 {
			t.Errorf("node %d: Len = %d, want 1", i, n)
		}
	}
	// A restart of the cluster creates no other admin token.
	again := mustOpenPGTokens(t, schema)
	if tok, created, err := again.EnsureAdmin(context.Background()); err != nil || created || tok != "" {
		t.Fatalf("EnsureAdmin after restart: %q %v %v", tok, created, err)
	}
}

func TestPostgresTokensSharedByNodes(t *testing.T) {
	schema, conn := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	b := mustOpenPGTokens(t, schema)

	w, err := a.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// Created on A, at once accepted by B (and by a node opened later).
	if p, ok := authenticate(b, w); !ok || p.Name != "李四" || p.Role != RoleWorker || len(p.Grids) != 1 || p.Grids[0] != "G1" {
		t.Fatalf("B: token created on A: %+v %v", p, ok)
	}
	if p, ok := authenticate(mustOpenPGTokens(t, schema), w); !ok || p.Name != "李四" {
		t.Fatalf("C: token created on A: %+v %v", p, ok)
	}
	if p, ok := authenticate(a, w); !ok || p.Name != "李四" {
		t.Fatalf("A: own token: %+v %v", p, ok)
	}
	// Wrong tokens: a changed character (well formed, so looked up), a
	// longer one, garbage, empty.
	flip := "A"
	if w[10] == 'A' {
		flip = "B"
	}
	changed := w[:10] + flip + w[11:]
	if !wellFormedToken(changed) {
		t.Fatalf("%q is not well formed", changed)
	}
	for _, bad := range []string{changed, w + "x", "Bearer " + w, "ds_", "", "not-a-token"} {
		for _, n := range []*Tokens{a, b} {
			if p, ok := authenticate(n, bad); ok || p.Name != "" {
				t.Errorf("wrong token %q authenticated as %+v", bad, p)
			}
		}
	}
	if a.Len(context.Background()) != 1 || b.Len(context.Background()) != 1 {
		t.Errorf("Len = %d, %d, want 1, 1", a.Len(context.Background()), b.Len(context.Background()))
	}
	// EnsureAdmin on a table that already holds a token creates nothing.
	if tok, created, err := b.EnsureAdmin(ctx); err != nil || created || tok != "" {
		t.Fatalf("EnsureAdmin on a non-empty table: %q %v %v", tok, created, err)
	}
	if n := tokenRows(t, conn, schema); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

func TestPostgresTokensSupervisorSeenAfterRefresh(t *testing.T) {
	schema, _ := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	b := mustOpenPGTokens(t, schema)
	const every = 500 * time.Millisecond
	// begin is B's last load itself: measured separately, a pause
	// between the two readings would let B refresh legitimately while
	// time.Since(begin) is still under the interval.
	begin := time.Now()
	b.pg.refreshMu.Lock()
	b.pg.refreshEvery = every
	b.pg.refreshed = begin
	b.pg.refreshMu.Unlock()

	if _, err := a.Create(ctx, Principal{Name: "王书记", Role: RoleSupervisor, Communities: []string{"C1", "C2"}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if got := a.Supervisor(context.Background(), "C2"); got != "王书记" {
		t.Errorf("A: supervisor of C2 = %q", got)
	}
	// B loaded the set just now: within the interval it reads its cache.
	if got := b.Supervisor(context.Background(), "C2"); got != "" && time.Since(begin) < every {
		t.Errorf("B read the table before the refresh interval was over: %q", got)
	}
	// B refreshes every 500 ms; the limit is a safety net only.
	deadline := time.Now().Add(time.Minute)
	for b.Supervisor(context.Background(), "C2") != "王书记" {
		if time.Now().After(deadline) {
			t.Fatalf("B does not see the supervisor created on A after %v", time.Minute)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := b.Supervisor(context.Background(), "C3"); got != "" {
		t.Errorf("B: supervisor of C3 = %q, want none", got)
	}
	// The earliest created supervisor of a community wins, on every node.
	if _, err := b.Create(ctx, Principal{Name: "赵主任", Role: RoleSupervisor, Communities: []string{"C1"}}, "admin"); err != nil {
		t.Fatal(err)
	}
	if got := b.Supervisor(context.Background(), "C1"); got != "王书记" {
		t.Errorf("B: supervisor of C1 = %q, want the earliest, 王书记", got)
	}
}

// The table holds only hashes: no token appears in any column.
func TestPostgresTokensStoredHashed(t *testing.T) {
	schema, conn := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	admin, created, err := a.EnsureAdmin(ctx)
	if err != nil || !created || !strings.HasPrefix(admin, "ds_") {
		t.Fatalf("EnsureAdmin: %v %v", created, err)
	}
	w, err := a.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT sha256, t::text FROM `+schema+`.tokens t`)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[string]bool{}
	for rows.Next() {
		var h, row string
		if err := rows.Scan(&h, &row); err != nil {
			t.Fatal(err)
		}
		hashes[h] = true
		for _, tok := range []string{admin, w, strings.TrimPrefix(admin, "ds_"), strings.TrimPrefix(w, "ds_")} {
			if strings.Contains(row, tok) {
				t.Fatalf("a token row holds a token in clear: %s", row)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 2 || !hashes[hashToken(admin)] || !hashes[hashToken(w)] {
		t.Fatalf("hashes in the table: %v", hashes)
	}
}

func TestPostgresTokensInvalidPrincipalWritesNothing(t *testing.T) {
	schema, conn := tokensSchema(t)
	a := mustOpenPGTokens(t, schema)
	for _, p := range []Principal{
		{Name: "x", Role: RoleWorker},
		{Name: "", Role: RoleAdmin},
		{Name: "y", Role: "root"},
		{Name: "z", Role: RoleSupervisor},
		{Name: "d", Role: RoleDepartment},
	} {
		tok, err := a.Create(context.Background(), p, "admin")
		if err == nil || tok != "" || !errors.Is(err, ErrInvalidPrincipal) {
			t.Errorf("principal %+v: %q %v, want a bad request", p, tok, err)
		}
	}
	if n := tokenRows(t, conn, schema); n != 0 {
		t.Fatalf("%d rows written for invalid principals", n)
	}
	if a.Len(context.Background()) != 0 {
		t.Fatalf("Len = %d", a.Len(context.Background()))
	}
}

func TestPostgresTokensSchemaName(t *testing.T) {
	for _, bad := range []string{"Doorstep", "1tokens", "tok-ens", "a;DROP SCHEMA public", `a"b`, "a b", "令牌", strings.Repeat("t", 64)} {
		_, err := OpenPostgresTokens(context.Background(), pgtest.SharedURL(), bad)
		if err == nil || !strings.Contains(err.Error(), "not a plain SQL identifier") {
			t.Errorf("schema %q: %v, want a clear identifier error", bad, err)
		}
	}
	// Valid names (not opened, to keep the database clean) pass validation
	// and fail only on the unreachable server.
	for _, good := range []string{"doorstep", "_t", "tokens_2", strings.Repeat("t", 63)} {
		_, err := OpenPostgresTokens(context.Background(), "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", good)
		if err == nil || strings.Contains(err.Error(), "identifier") {
			t.Errorf("schema %q: %v, want a connection error only", good, err)
		}
	}
}

func TestPostgresTokensErrorHidesPassword(t *testing.T) {
	_, err := OpenPostgresTokens(context.Background(), "postgres://someone:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "")
	if err == nil {
		t.Fatal("opening a server that is not there must fail")
	}
	if !strings.HasPrefix(err.Error(), "tokens: ") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error = %v", err)
	}
	_, err = OpenPostgresTokens(context.Background(), "postgres://someone:s3cret-pw@127.0.0.1:5432/x?sslmode=disable&connect_timeout=2&bogus_option=%zz", "")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error = %v", err)
	}
}

// Once the database is gone, a token the node has cached still works, an
// uncached one is refused (not a panic), and nothing hangs.
func TestPostgresTokensDatabaseGone(t *testing.T) {
	schema, _ := tokensSchema(t)
	ctx := context.Background()
	a := mustOpenPGTokens(t, schema)
	b := mustOpenPGTokens(t, schema)
	w, err := a.Create(ctx, Principal{Name: "李四", Role: RoleWorker, Grids: []string{"G1"}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	if p, ok := authenticate(a, w); !ok || p.Name != "李四" {
		t.Errorf("cached token after Close: %+v %v", p, ok)
	}
	begin := time.Now()
	if _, ok := authenticate(b, w); ok {
		t.Error("an uncached token authenticated without the database")
	}
	if got := b.Supervisor(context.Background(), "C1"); got != "" {
		t.Errorf("Supervisor = %q", got)
	}
	if n := a.Len(context.Background()); n != 1 {
		t.Errorf("Len without the database = %d, want the cached 1", n)
	}
	if _, err := b.Create(ctx, Principal{Name: "x", Role: RoleAuditor}, "admin"); err == nil || strings.Contains(err.Error(), "ds_") {
		t.Errorf("Create without the database: %v", err)
	}
	if d := time.Since(begin); d > 2*pgTokensTimeout {
		t.Errorf("calls without the database took %v", d)
	}
}

// The file-backed set: Close does nothing, and the file is still used.
func TestFileTokensClose(t *testing.T) {
	path := t.TempDir() + "/" + TokensFile
	toks, err := OpenTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, created, err := toks.EnsureAdmin(context.Background())
	if err != nil || !created {
		t.Fatal(created, err)
	}
	toks.Close()
	toks.Close()
	if _, ok := authenticate(toks, tok); !ok || toks.Len(context.Background()) != 1 {
		t.Fatal("file tokens unusable after Close")
	}
	if _, err := toks.Create(context.Background(), Principal{Name: "a", Role: RoleAuditor}, "admin"); err != nil {
		t.Fatal(err)
	}
	if toks.Len(context.Background()) != 2 {
		t.Fatalf("Len = %d", toks.Len(context.Background()))
	}
}

func TestWellFormedToken(t *testing.T) {
	tok, _, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	if !wellFormedToken(tok) {
		t.Fatalf("a new token %q is not well formed", tok)
	}
	for _, bad := range []string{"", "ds_", tok + "A", tok[:len(tok)-1], "xx" + tok[2:], tok[:10] + "+" + tok[11:], tok[:10] + "=" + tok[11:]} {
		if wellFormedToken(bad) {
			t.Errorf("%q is well formed", bad)
		}
	}
}
