package logchain_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/logchain"
)

// backend is a real store the tests can reopen and tamper with in SQL, as
// someone with access to the database would.
type backend interface {
	Store() eventstore.Store
	// Exec closes the store, runs SQL on its database directly, and
	// reopens the store. In the SQL, {pos:P} is replaced by the
	// backend's comparison "the event's position is P" and {after:P} by
	// "the event's position is after P", with P a position's text form.
	Exec(t *testing.T, stmts ...string)
}

type sqliteBackend struct {
	path string
	s    *sqlite.Store
}

func newSQLite(t *testing.T) backend {
	b := &sqliteBackend{path: filepath.Join(t.TempDir(), "events.db")}
	b.open(t)
	t.Cleanup(func() { b.s.Close() })
	return b
}

func (b *sqliteBackend) open(t *testing.T) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: b.path})
	if err != nil {
		t.Fatal(err)
	}
	b.s = s
}

func (b *sqliteBackend) Store() eventstore.Store { return b.s }

func (b *sqliteBackend) Exec(t *testing.T, stmts ...string) {
	t.Helper()
	if err := b.s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", b.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		q = expand(q, func(p eventstore.Position) string { return fmt.Sprintf("position = %d", p.Lo) },
			func(p eventstore.Position) string { return fmt.Sprintf("position > %d", p.Lo) },
			func(p eventstore.Position) string { return fmt.Sprintf("position = %d", p.Lo) })
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	b.open(t)
}

type pgBackend struct {
	schema string
	s      *postgres.Store
}

func newPostgres(t *testing.T) backend {
	conn := pgtest.Connect(t)
	var r [6]byte
	_, _ = rand.Read(r[:])
	b := &pgBackend{schema: "logchain_test_" + hex.EncodeToString(r[:])}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{b.schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	b.open(t)
	t.Cleanup(func() { b.s.Close() })
	return b
}

func (b *pgBackend) open(t *testing.T) {
	s, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.SharedURL(), Schema: b.schema})
	if err != nil {
		t.Fatal(err)
	}
	b.s = s
}

func (b *pgBackend) Store() eventstore.Store { return b.s }

func (b *pgBackend) Exec(t *testing.T, stmts ...string) {
	t.Helper()
	if err := b.s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn := pgtest.Connect(t)
	if _, err := conn.Exec(ctx, `SET search_path TO `+pgx.Identifier{b.schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		q = expand(q, func(p eventstore.Position) string {
			return fmt.Sprintf("(transaction_id, seq) = ('%d'::xid8, %d)", p.Hi, p.Lo)
		}, func(p eventstore.Position) string {
			return fmt.Sprintf("(transaction_id, seq) > ('%d'::xid8, %d)", p.Hi, p.Lo)
		}, func(p eventstore.Position) string {
			return fmt.Sprintf("transaction_id = '%d'::xid8, seq = %d", p.Hi, p.Lo)
		})
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b.open(t)
}

// expand replaces {pos:P}, {after:P} and {set:P} (assign position P) in q.
func expand(q string, pos, after, set func(eventstore.Position) string) string {
	for _, k := range []struct {
		tag string
		f   func(eventstore.Position) string
	}{{"{pos:", pos}, {"{after:", after}, {"{set:", set}} {
		for {
			i := strings.Index(q, k.tag)
			if i < 0 {
				break
			}
			j := strings.Index(q[i:], "}")
			p, err := eventstore.ParsePosition(q[i+len(k.tag) : i+j])
			if err != nil {
				panic(err)
			}
			q = q[:i] + k.f(p) + q[i+j+1:]
		}
	}
	return q
}

var backends = []struct {
	name string
	open func(*testing.T) backend
}{{"sqlite", newSQLite}, {"postgres", newPostgres}}

// history is a log with three signed heads and an unsigned tail.
type history struct {
	pub    ed25519.PublicKey
	signer *logchain.Signer
	heads  []logchain.Head                // H1, H2, H3
	at     map[string]eventstore.Position // "stream/version" → position
	file   string
}

func appendEvents(t *testing.T, s eventstore.Store, h *history, evs ...string) {
	t.Helper()
	for _, sv := range evs {
		stream, _, _ := strings.Cut(sv, "/")
		res, err := s.Append(context.Background(), stream, eventstore.Any(), eventstore.EventData{
			ID: eventstore.NewID(), Type: "test.happened", Data: []byte(fmt.Sprintf(`{"what":%q,"备注":"测试"}`, sv)),
			Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Actor: "tester"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := sv[len(stream)+1:]; fmt.Sprint(res.LastVersion) != want {
			t.Fatalf("%s landed at version %d", sv, res.LastVersion)
		}
		h.at[sv] = res.LastPosition
	}
}

func build(t *testing.T, b backend) *history {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := &history{pub: pub, at: map[string]eventstore.Position{}, file: filepath.Join(t.TempDir(), "signed-heads.jsonl")}
	h.signer = &logchain.Signer{Store: b.Store(), Key: priv, File: h.file,
		Now: func() time.Time { return time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC) }}
	sign := func() {
		hd, err := h.signer.Sign(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h.heads = append(h.heads, hd)
	}
	s := b.Store()
	appendEvents(t, s, h, "household-a/1", "household-b/1", "household-a/2", "household-b/2", "household-c/1")
	sign()
	appendEvents(t, s, h, "household-a/3", "household-b/3", "household-c/2", "household-d/1", "household-d/2", "household-a/4")
	sign()
	appendEvents(t, s, h, "household-e/1")
	sign()
	appendEvents(t, s, h, "household-f/1")
	return h
}

func (h *history) verify(t *testing.T, s eventstore.Store, withFile bool) (logchain.Report, error) {
	t.Helper()
	cfg := logchain.VerifyConfig{Keys: []ed25519.PublicKey{h.pub}}
	if withFile {
		heads, err := logchain.ReadFile(h.file)
		if err != nil {
			t.Fatal(err)
		}
		if len(heads) != 3 {
			t.Fatalf("heads file holds %d heads, want 3", len(heads))
		}
		cfg.Heads = heads
	}
	return logchain.Verify(context.Background(), s, cfg)
}

func TestIntactLogVerifies(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			h := build(t, b)
			rep, err := h.verify(t, b.Store(), true)
			if err != nil {
				t.Fatal(err)
			}
			// 13 events and 3 heads in the log; the last head and one event unsigned.
			if rep.Events != 16 || rep.Heads != 3 || !rep.SignaturesChecked || rep.Last == nil || rep.Last.Count != 14 || rep.Uncovered != 2 {
				t.Fatalf("report %+v", rep)
			}
			if h.heads[1].Count != 12 || h.heads[0].Count != 5 {
				t.Fatalf("heads cover %d and %d events, want 5 and 12", h.heads[0].Count, h.heads[1].Count)
			}
		})
	}
}

// inRange asserts that err is a *logchain.Error whose range of positions
// holds every position of want, after the head before.
func inRange(t *testing.T, err error, before logchain.Head, word string, want ...eventstore.Position) {
	t.Helper()
	var le *logchain.Error
	if !errors.As(err, &le) || !errors.Is(err, eventstore.ErrChainBroken) {
		t.Fatalf("verify: %v (%T), want a *logchain.Error", err, err)
	}
	if le.After != before.Position {
		t.Fatalf("the log differs after position %q, want after the head before the tampering, %q: %v", le.After, before.Position, err)
	}
	through, perr := eventstore.ParsePosition(le.Through)
	after, _ := eventstore.ParsePosition(le.After)
	for _, p := range want {
		if perr != nil || !after.Before(p) || through.Before(p) {
			t.Fatalf("position %s is not in the range named (%s, %s]: %v", p, le.After, le.Through, err)
		}
	}
	if !strings.Contains(err.Error(), word) {
		t.Fatalf("the error does not say %q: %v", word, err)
	}
	t.Logf("%s", err)
}

func TestTamperingIsDetected(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				sql  func(h *history) []string
				// check the error of verify with the heads file and the
				// log's heads.
				check func(t *testing.T, h *history, err error)
			}{
				{"deleted last event of a stream", func(h *history) []string {
					return []string{fmt.Sprintf("DELETE FROM events WHERE {pos:%s}", h.at["household-a/4"])}
				}, func(t *testing.T, h *history, err error) {
					inRange(t, err, h.heads[0], "deleted", h.at["household-a/4"])
				}},
				{"deleted stream", func(h *history) []string {
					return []string{"DELETE FROM events WHERE stream = 'household-d'"}
				}, func(t *testing.T, h *history, err error) {
					inRange(t, err, h.heads[0], "deleted", h.at["household-d/1"], h.at["household-d/2"])
				}},
				{"reordered pair", func(h *history) []string {
					p, q := h.at["household-b/3"], h.at["household-c/2"]
					return []string{
						fmt.Sprintf("UPDATE events SET {set:%s} WHERE {pos:%s}", "999999.999999", p),
						fmt.Sprintf("UPDATE events SET {set:%s} WHERE {pos:%s}", p, q),
						fmt.Sprintf("UPDATE events SET {set:%s} WHERE {pos:%s}", q, "999999.999999"),
					}
				}, func(t *testing.T, h *history, err error) {
					inRange(t, err, h.heads[0], "reordered", h.at["household-b/3"], h.at["household-c/2"])
				}},
				{"truncated log", func(h *history) []string {
					// Cut everything after the first head's event.
					return []string{fmt.Sprintf("DELETE FROM events WHERE {after:%s}", h.at["household-c/1"]),
						"DELETE FROM events WHERE stream = 'logchain-heads' AND version > 1"}
				}, func(t *testing.T, h *history, err error) {
					inRange(t, err, h.heads[0], "cut short", h.at["household-a/3"])
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					b := be.open(t)
					h := build(t, b)
					b.Exec(t, tc.sql(h)...)
					// Every stream's chain still verifies: the per-stream
					// chains alone do not see this.
					if _, err := eventstore.VerifyAll(context.Background(), b.Store(), nil); err != nil {
						t.Fatalf("the per-stream chains see the tampering (%v): the case does not test the global chain", err)
					}
					_, err := h.verify(t, b.Store(), true)
					tc.check(t, h, err)
				})
			}
		})
	}
}

// TestForgedHeadsAreRefused: someone who can edit the database but does
// not hold the key can neither add a head of their own nor change one.
func TestForgedHeadsAreRefused(t *testing.T) {
	b := newSQLite(t)
	h := build(t, b)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forger := &logchain.Signer{Store: b.Store(), Key: other}
	if _, err := forger.Sign(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.verify(t, b.Store(), false); err == nil || !strings.Contains(err.Error(), "none of the given public keys") {
		t.Fatalf("a head signed by another key: %v", err)
	}

	b2 := newSQLite(t)
	h2 := build(t, b2)
	altered := h2.heads[1]
	altered.Chain = strings.Repeat("0", 64)
	cfg := logchain.VerifyConfig{Keys: []ed25519.PublicKey{h2.pub}, Heads: []logchain.Head{altered}}
	if _, err := logchain.Verify(context.Background(), b2.Store(), cfg); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("an altered head: %v", err)
	}
	// With a key and no head at all, nothing shows the log was not cut.
	b3 := newSQLite(t)
	appendEvents(t, b3.Store(), &history{at: map[string]eventstore.Position{}}, "household-a/1")
	if _, err := logchain.Verify(context.Background(), b3.Store(), logchain.VerifyConfig{Keys: []ed25519.PublicKey{h2.pub}}); err == nil || !strings.Contains(err.Error(), "no signed head") {
		t.Fatalf("no heads: %v", err)
	}
	// Without keys the chain values are still compared.
	if _, err := logchain.Verify(context.Background(), b2.Store(), logchain.VerifyConfig{Heads: []logchain.Head{altered}}); err == nil {
		t.Fatal("an altered chain value passed without keys")
	}
}

// TestSignerRun signs after Every events while it runs, and never for heads alone.
func TestSignerRun(t *testing.T) {
	b := newSQLite(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	file := filepath.Join(t.TempDir(), "heads.jsonl")
	s := &logchain.Signer{Store: b.Store(), Key: priv, File: file, Every: 3, Interval: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	sub, err := b.Store().Subscribe(ctx, eventstore.Position{}, eventstore.Filter{Categories: []string{"logchain"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &history{at: map[string]eventstore.Position{}}
	appendEvents(t, b.Store(), h, "household-a/1", "household-a/2", "household-a/3")
	first := <-sub.C
	appendEvents(t, b.Store(), h, "household-a/4", "household-a/5", "household-a/6")
	second := <-sub.C
	// One more event, fewer than Every: it is signed when Run stops
	// (issue 13, decision 0073: a graceful shutdown leaves the log's end
	// covered by a head).
	appendEvents(t, b.Store(), h, "household-a/7")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	heads, err := logchain.ReadFile(file)
	if err != nil || len(heads) != 3 || heads[0].Count != 3 || heads[1].Count != 7 || heads[2].Count != 9 {
		t.Fatalf("heads %+v, %v; want heads of events #3, #7 and, at stop, #9", heads, err)
	}
	if first.Position.Compare(h.at["household-a/3"]) <= 0 || second.Position.Compare(h.at["household-a/6"]) <= 0 {
		t.Fatal("a head was appended before the events it covers")
	}
	if _, err := logchain.Verify(context.Background(), b.Store(), logchain.VerifyConfig{Keys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}, Heads: heads}); err != nil {
		t.Fatal(err)
	}
}
