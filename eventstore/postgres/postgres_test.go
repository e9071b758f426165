package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/storetest"
	"github.com/doorstep/doorstep/internal/pgtest"
)

// The tests run against the real server named by DOORSTEP_TEST_POSTGRES;
// each test works in a schema of its own, dropped at the end.
func testURL() string { return pgtest.SharedURL() }

// mustServer fails the test, saying how to start PostgreSQL, when the
// server cannot be reached. These tests never skip.
func mustServer(tb testing.TB) { pgtest.Connect(tb) }

// newSchema returns a fresh schema name and drops the schema when the test ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	mustServer(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "es_test_" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testURL())
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

func mustOpen(tb testing.TB, cfg postgres.Config) *postgres.Store {
	tb.Helper()
	if cfg.URL == "" && cfg.Pool == nil {
		cfg.URL = testURL()
	}
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open schema %s: %v", cfg.Schema, err)
	}
	return s
}

type fixture struct {
	schema string
	s      *postgres.Store
}

func newFixture(t *testing.T) storetest.Fixture {
	f := &fixture{schema: newSchema(t)}
	f.s = mustOpen(t, postgres.Config{Schema: f.schema})
	t.Cleanup(func() { f.s.Close() })
	return f
}

func (f *fixture) Store() eventstore.Store { return f.s }

func (f *fixture) Reopen(t *testing.T) eventstore.Store {
	if err := f.s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	f.s = mustOpen(t, postgres.Config{Schema: f.schema})
	return f.s
}

func (f *fixture) Tamper(t *testing.T, stream string, version uint64) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE `+pgx.Identifier{f.schema, "events"}.Sanitize()+
		` SET data = data || ' '::bytea WHERE stream = $1 AND version = $2`, stream, int64(version))
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("tamper changed %d rows, want 1", tag.RowsAffected())
	}
}

// features: The PostgreSQL store offers every feature the conformance suite checks.
var features = storetest.Features{
	Append: true, ReadStream: true, ReadAll: true, ExpectedVersion: true,
	IdempotentRetry: true, DurableIdempotency: true, UniqueEventIDs: true,
	Head: true, Subscribe: true, SubscribeFilters: true,
	HashChain: true, Tamper: true,
}

func TestConformance(t *testing.T) { storetest.Run(t, features, newFixture) }

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	cases := []postgres.Config{
		{},
		{URL: testURL(), Writers: -1},
		{URL: testURL(), Schema: string(make([]byte, 64))},
	}
	for _, c := range cases {
		if s, err := postgres.Open(ctx, c); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

// TestUnavailable: a server that cannot be reached is ErrUnavailable, so
// the HTTP layer can answer 503.
func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Port 1 on the loopback: nothing listens there, the dial is refused.
	_, err := postgres.Open(ctx, postgres.Config{URL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", Schema: "unused"})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Open against a closed port: err = %v, want ErrUnavailable", err)
	}
}

// TestConcurrentMigrations: nodes starting together on a fresh schema all
// open it, and every migration is applied exactly once.
func TestConcurrentMigrations(t *testing.T) {
	schema := newSchema(t)
	const nodes = 8
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = postgres.Open(context.Background(), postgres.Config{URL: testURL(), Schema: schema})
		}()
	}
	close(start)
	wg.Wait()
	for i := range stores {
		if errs[i] != nil {
			t.Fatalf("node %d: open: %v", i, errs[i])
		}
		defer stores[i].Close()
	}
	ctx := context.Background()
	rows, err := stores[0].Pool().Query(ctx, `SELECT version FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != postgres.SchemaVersion() {
		t.Fatalf("schema_migrations = %v, want versions 1..%d once each", versions, postgres.SchemaVersion())
	}
	for i, v := range versions {
		if int(v) != i+1 {
			t.Fatalf("schema_migrations = %v, want versions 1..%d once each", versions, postgres.SchemaVersion())
		}
	}
	// Every node can write, and sees what the others wrote.
	st := storetest.Stream("household")
	for i, s := range stores {
		storetest.MustAppend(t, s, st, eventstore.Exact(uint64(i)), storetest.Event("household.note", i))
	}
	for i, s := range stores {
		if v, err := s.StreamVersion(ctx, st); err != nil || v != nodes {
			t.Fatalf("node %d: stream version %d, %v; want %d", i, v, err, nodes)
		}
	}
}

// TestNewerSchemaRefused: a binary must not run on a schema migrated by a
// newer one.
func TestNewerSchemaRefused(t *testing.T) {
	schema := newSchema(t)
	s := mustOpen(t, postgres.Config{Schema: schema})
	_, err := s.Pool().Exec(context.Background(), `INSERT INTO `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` (version) VALUES ($1)`, postgres.SchemaVersion()+1)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), postgres.Config{URL: testURL(), Schema: schema})
	if err == nil {
		t.Fatal("Open on a schema newer than the binary succeeded")
	}
}

// TestGroupCommit: concurrent appends to different streams share
// transactions, and with the stream heads remembered they need no read.
func TestGroupCommit(t *testing.T) {
	s := mustOpen(t, postgres.Config{Schema: newSchema(t)})
	defer s.Close()
	const writers, per = 32, 30
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := storetest.Stream("household")
			for i := 0; i < per; i++ {
				res, err := s.Append(context.Background(), st, eventstore.Exact(uint64(i)), storetest.Event("visit.recorded", i))
				if err != nil || res.FirstVersion != uint64(i+1) || res.LastVersion != uint64(i+1) {
					t.Errorf("append %d to %s: %+v, %v", i, st, res, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	t.Logf("%+v (%.1f appends per transaction)", st, float64(st.Appends)/float64(st.Transactions))
	if st.Appends != writers*per {
		t.Fatalf("writers answered %d appends, want %d", st.Appends, writers*per)
	}
	if st.Transactions >= st.Appends {
		t.Fatalf("%d appends took %d transactions: concurrent appends were not committed together", st.Appends, st.Transactions)
	}
	if st.HeadReads != 0 || st.SlowAppends != 0 {
		t.Fatalf("%d head reads, %d slow appends; want none when every head is known", st.HeadReads, st.SlowAppends)
	}
	// The log may lag a moment behind the commits while other
	// transactions on the server are open; wait for it, then verify.
	readAllEventually(t, s, writers*per)
	n, err := eventstore.VerifyAll(context.Background(), s, nil)
	if err != nil || n != writers*per {
		t.Fatalf("verify: %d events, %v", n, err)
	}
}

// readAllEventually reads the whole log until it holds want events (a
// transaction still open elsewhere on the server may hold the newest back
// for a moment) or 30 s have passed.
func readAllEventually(t *testing.T, s eventstore.Store, want int) []eventstore.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []eventstore.Event
		var after eventstore.Position
		for {
			page, err := s.ReadAll(context.Background(), after, 1000)
			if err != nil {
				t.Fatalf("read all: %v", err)
			}
			got = append(got, page...)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Position
		}
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
