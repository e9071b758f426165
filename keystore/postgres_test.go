package keystore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/keystore"
)

// These tests run against the real PostgreSQL server of the machine
// (pgtest.SharedURL). They fail, never skip, when it is
// down. Each test works in a fresh schema of its own, dropped afterwards.

// freshSchema returns the name of a schema no one uses yet (not created),
// and drops it when the test ends, after the stores opened later are closed.
func freshSchema(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema := "keystore_test_" + hex.EncodeToString(b)
	conn := pgtest.Connect(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openPG opens a PostgresStore ("a node") on schema, closed at cleanup.
func openPG(t *testing.T, schema string) *keystore.PostgresStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := keystore.OpenPostgres(ctx, pgtest.SharedURL(), schema)
	if err != nil {
		t.Fatalf("open PostgreSQL key store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestPostgresStoreContract(t *testing.T) {
	testKeyStore(t, func(t *testing.T) keystore.KeyStore {
		return openPG(t, freshSchema(t))
	})
}

func TestPostgresSchemaName(t *testing.T) {
	for _, bad := range []string{"Doorstep", "1keys", "key-store", "a;DROP SCHEMA public", `a"b`, "a b", "ключи", strings.Repeat("k", 64)} {
		_, err := keystore.OpenPostgres(context.Background(), pgtest.SharedURL(), bad)
		if err == nil || !strings.Contains(err.Error(), "not a plain SQL identifier") {
			t.Errorf("schema %q: %v, want a clear identifier error", bad, err)
		}
	}
	// Valid names (not opened, to keep the database clean) pass validation
	// and fail only on the unreachable server.
	for _, good := range []string{"doorstep", "_k", "keys_2", strings.Repeat("k", 63)} {
		_, err := keystore.OpenPostgres(context.Background(), "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", good)
		if err == nil || strings.Contains(err.Error(), "identifier") {
			t.Errorf("schema %q: %v, want a connection error only", good, err)
		}
	}
}

func TestPostgresUnreachableErrorHidesPassword(t *testing.T) {
	_, err := keystore.OpenPostgres(context.Background(), "postgres://someone:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", "keys")
	if err == nil {
		t.Fatal("opening a server that is not there must fail")
	}
	if !strings.HasPrefix(err.Error(), "keystore: ") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error = %v", err)
	}
}

func TestPostgresTimesAreUTCMicroseconds(t *testing.T) {
	s := openPG(t, freshSchema(t))
	cst := time.FixedZone("CST", 8*3600)
	created := time.Date(2026, 3, 1, 16, 0, 0, 123456789, cst)
	k := keystore.Key{HouseholdID: "h1", KeyID: "k-1", Secret: bytes.Repeat([]byte{7}, keystore.KeySize), CreatedAt: created}
	if err := s.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "h1")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)
	if got.CreatedAt != want { // == also compares the location
		t.Fatalf("created at %v, want %v", got.CreatedAt, want)
	}
	// The earliest erasure wins, whatever the order of the calls.
	e2 := time.Date(2026, 4, 2, 0, 0, 0, 999, time.UTC)
	e1 := time.Date(2026, 4, 1, 0, 0, 0, 5999, cst)
	e3 := time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{e2, e1, e3} {
		if err := s.Erase(context.Background(), "h1", at); err != nil {
			t.Fatal(err)
		}
	}
	got, err = s.Get(context.Background(), "h1")
	if err != nil {
		t.Fatal(err)
	}
	if want := e1.UTC().Truncate(time.Microsecond); got.ErasedAt != want || got.CreatedAt.IsZero() || got.KeyID != "k-1" {
		t.Fatalf("tombstone %+v, want erased at %v", got, want)
	}
}

func TestPostgresTwoNodesShareKeys(t *testing.T) {
	schema := freshSchema(t)
	a, b := openPG(t, schema), openPG(t, schema)
	k := keystore.Key{HouseholdID: "h1", KeyID: "k-1", Secret: bytes.Repeat([]byte{1}, keystore.KeySize), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := a.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(context.Background(), "h1")
	if err != nil || got.KeyID != k.KeyID || !bytes.Equal(got.Secret, k.Secret) || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("node B reads %+v %v", got, err)
	}

	va, vb := keystore.New(a, keystore.Config{}), keystore.New(b, keystore.Config{})
	sealed, err := va.Seal(context.Background(), "h2", []byte("13800138000"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := vb.Open(context.Background(), "h2", sealed); err != nil || string(pt) != "13800138000" {
		t.Fatalf("node B opens what node A sealed: %q %v", pt, err)
	}
	// Both nodes fingerprint alike, so a command retried on the other node
	// is still recognised.
	fa, err := va.Fingerprint(context.Background(), "h2", []byte("cmd"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := vb.Fingerprint(context.Background(), "h2", []byte("cmd"))
	if err != nil || !bytes.Equal(fa, fb) {
		t.Fatalf("fingerprints differ across nodes: %x %x %v", fa, fb, err)
	}
}

func TestPostgresConcurrentCreateAcrossNodes(t *testing.T) {
	schema := freshSchema(t)
	stores := []*keystore.PostgresStore{openPG(t, schema), openPG(t, schema)}
	const n = 16
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := keystore.Key{HouseholdID: "h1", KeyID: "k-" + string(rune('a'+i)), Secret: bytes.Repeat([]byte{byte(i)}, keystore.KeySize), CreatedAt: time.Now().UTC()}
			<-start
			errs[i] = stores[i%2].Create(context.Background(), k)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("creators %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, keystore.ErrKeyExists):
			t.Fatalf("creator %d: %v, want nil or ErrKeyExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creator won")
	}
	for _, s := range stores {
		got, err := s.Get(context.Background(), "h1")
		if err != nil || got.KeyID != "k-"+string(rune('a'+winner)) || !bytes.Equal(got.Secret, bytes.Repeat([]byte{byte(winner)}, keystore.KeySize)) {
			t.Fatalf("stored key %q %v, want the winner's k-%c", got.KeyID, err, 'a'+winner)
		}
	}
}

func TestPostgresConcurrentOpen(t *testing.T) {
	schema := freshSchema(t)
	const n = 8
	stores := make([]*keystore.PostgresStore, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			<-start
			stores[i], errs[i] = keystore.OpenPostgres(ctx, pgtest.SharedURL(), schema)
		}()
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if s != nil {
			t.Cleanup(s.Close)
		}
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for i, s := range stores {
		if _, err := s.Get(context.Background(), "h1"); !errors.Is(err, keystore.ErrNoKey) {
			t.Fatalf("store %d: get: %v", i, err)
		}
	}
	if err := stores[0].Create(context.Background(), keystore.Key{HouseholdID: "h1", KeyID: "k", Secret: make([]byte, keystore.KeySize), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := stores[n-1].Get(context.Background(), "h1"); err != nil || got.KeyID != "k" {
		t.Fatalf("get through another store: %+v %v", got, err)
	}
}

func TestPostgresEraseSeenByOtherNodeAfterTTL(t *testing.T) {
	schema := freshSchema(t)
	a, b := openPG(t, schema), openPG(t, schema)
	va := keystore.New(a, keystore.Config{})
	vb := keystore.New(b, keystore.Config{CacheTTL: 50 * time.Millisecond})
	vbForever := keystore.New(b, keystore.Config{}) // no TTL: today's behaviour
	sealed, err := va.Seal(context.Background(), "h1", []byte("低保 800 元"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*keystore.Vault{vb, vbForever} {
		if pt, err := v.Open(context.Background(), "h1", sealed); err != nil || string(pt) != "低保 800 元" {
			t.Fatalf("open on node B before erasure: %q %v", pt, err)
		}
	}
	if err := va.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := vb.Open(context.Background(), "h1", sealed); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("node B with CacheTTL opens after the TTL: %v, want erased", err)
	}
	if _, err := vb.Seal(context.Background(), "h1", []byte("new")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("node B seals for an erased household: %v", err)
	}
	if _, err := vb.Fingerprint(context.Background(), "h1", []byte("cmd")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("node B fingerprints for an erased household: %v", err)
	}
	// Without a TTL the cached key stays usable: the reason CacheTTL exists.
	if _, err := vbForever.Open(context.Background(), "h1", sealed); err != nil {
		t.Fatalf("vault without TTL: %v (expected the cached key to be used)", err)
	}
}

func TestPostgresEraseDropsSecret(t *testing.T) {
	schema := freshSchema(t)
	s := openPG(t, schema)
	v := keystore.New(s, keystore.Config{})
	if _, err := v.Seal(context.Background(), "h1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	k, err := s.Get(context.Background(), "h1")
	if err != nil || len(k.Secret) != keystore.KeySize {
		t.Fatalf("key %v", err)
	}
	if err := v.Erase(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	if err := v.Erase(context.Background(), "h2"); err != nil { // never had a key: a tombstone
		t.Fatal(err)
	}
	conn := pgtest.Connect(t)
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT household_id, key_id, secret IS NULL, erased_at IS NOT NULL FROM `+schema+`.data_keys ORDER BY household_id`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		household, keyID string
		noSecret, erased bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.household, &x.keyID, &x.noSecret, &x.erased)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []row{{"h1", k.KeyID, true, true}, {"h2", "", true, true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("rows %+v, want %+v", got, want)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.data_keys WHERE position($1::bytea IN coalesce(secret, ''::bytea)) > 0`, k.Secret).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows still hold the erased secret (%v)", n, err)
	}
	// The table itself refuses an erased row that keeps a secret.
	if _, err := conn.Exec(ctx, `UPDATE `+schema+`.data_keys SET secret = $1 WHERE household_id = 'h1'`, k.Secret); err == nil {
		t.Fatal("the CHECK constraint must refuse a secret on an erased row")
	}
}

func TestPostgresRejectsBadInput(t *testing.T) {
	s := openPG(t, freshSchema(t))
	secret := []byte("0123456789abcdef") // 16 bytes: not an AES-256 key
	err := s.Create(context.Background(), keystore.Key{HouseholdID: "h1", KeyID: "k", Secret: secret, CreatedAt: time.Now()})
	if err == nil || strings.Contains(err.Error(), string(secret)) || strings.Contains(err.Error(), hex.EncodeToString(secret)) {
		t.Fatalf("create with a short key: %v", err)
	}
	if err := s.Create(context.Background(), keystore.Key{KeyID: "k", Secret: make([]byte, keystore.KeySize)}); err == nil {
		t.Fatal("create without household id must fail")
	}
	if err := s.Erase(context.Background(), "h1", time.Time{}); err == nil {
		t.Fatal("erase with a zero time must fail")
	}
	if _, err := s.Get(context.Background(), "h1"); !errors.Is(err, keystore.ErrNoKey) {
		t.Fatalf("nothing must have been stored: %v", err)
	}
}

func TestPostgresClosed(t *testing.T) {
	s := openPG(t, freshSchema(t))
	s.Close()
	if _, err := s.Get(context.Background(), "h1"); err == nil || errors.Is(err, keystore.ErrNoKey) || !strings.HasPrefix(err.Error(), "keystore: ") {
		t.Fatalf("get on a closed store: %v", err)
	}
	s.Close() // again (and at cleanup): no panic
}
