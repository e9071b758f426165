package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/clock"
)

// The benchmarks put the store beside the raw driver (database/sql on
// modernc.org/sqlite, the same DSN, the same table and the same INSERT) in
// one run. Every append is durable (synchronous=FULL in WAL mode). The
// figure to compare is events/s.
//
//	go test -run '^$' -bench . -benchtime 3s ./eventstore/sqlite/

func benchEvent(i int) eventstore.EventData {
	return eventstore.EventData{
		ID: eventstore.NewID(), Type: "visit.recorded",
		Data:     fmt.Appendf(nil, `{"household":"h-%d","mode":"home","team":["网格员-李明","社工-王芳"],"outcome":"completed","observations":"老人独居，身体状况稳定，需定期随访","problems":[]}`, i),
		Metadata: eventstore.Metadata{OccurredAt: clock.Now(), Actor: "worker-17", Role: "worker", CommandID: uuid.NewString(), Community: "幸福里社区", Grid: "g-03"},
	}
}

func openRaw(b *testing.B, path string) *sql.DB {
	db, err := sql.Open("sqlite", sqlite.DSN(path, false))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(sqlite.Schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// rawInsert writes events as the raw driver would: one transaction per call.
func rawInsert(db *sql.DB, stream string, version uint64, events []eventstore.EventData) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.Prepare(sqlite.InsertSQL)
	if err != nil {
		return err
	}
	defer st.Close()
	var prev [32]byte
	now := clock.Now()
	for i := range events {
		version++
		e := eventstore.Seal(prev, stream, version, now, &events[i])
		m := &e.Metadata
		if _, err := st.Exec(e.ID[:], e.Stream, int64(e.Version), e.Type, e.SchemaVersion, []byte(e.Data),
			eventstore.UnixNanos(m.OccurredAt), m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID,
			m.Community, m.Grid, m.KeyID, eventstore.UnixNanos(e.RecordedAt), e.Hash[:]); err != nil {
			return err
		}
		prev = e.Hash
	}
	return tx.Commit()
}

// runWriters spreads b.N appends of batch events over writers goroutines,
// each on its own stream, and reports events/s.
func runWriters(b *testing.B, writers, batch int, appendFn func(stream string, version uint64, evs []eventstore.EventData) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := "household-" + uuid.NewString()
			var version uint64
			for next.Add(1) <= int64(b.N) {
				evs := make([]eventstore.EventData, batch)
				for i := range evs {
					evs[i] = benchEvent(i)
				}
				if err := appendFn(stream, version, evs); err != nil {
					errs <- err
					return
				}
				version += uint64(batch)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
}

func BenchmarkAppend(b *testing.B) {
	cases := []struct {
		name           string
		writers, batch int
	}{
		{"writers=1", 1, 1},
		{"writers=8", 8, 1},
		{"writers=32", 32, 1},
		{"batch=100", 1, 100},
	}
	for _, c := range cases {
		b.Run(c.name+"/store", func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "events.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			defer func() { st := s.Stats(); b.ReportMetric(float64(st.Appends)/float64(st.Commits), "appends/commit") }()
			runWriters(b, c.writers, c.batch, func(stream string, version uint64, evs []eventstore.EventData) error {
				_, err := s.Append(context.Background(), stream, eventstore.Exact(version), evs...)
				return err
			})
		})
		b.Run(c.name+"/raw", func(b *testing.B) {
			db := openRaw(b, filepath.Join(b.TempDir(), "events.db"))
			db.SetMaxOpenConns(c.writers)
			runWriters(b, c.writers, c.batch, func(stream string, version uint64, evs []eventstore.EventData) error {
				return rawInsert(db, stream, version, evs)
			})
		})
	}
}

// BenchmarkReadAll reads a log of 100,000 events from start to end: the
// store through ReadAll into envelopes, the raw driver by scanning the same
// columns of the same file into plain variables.
func BenchmarkReadAll(b *testing.B) {
	const total = 100_000
	path := filepath.Join(b.TempDir(), "events.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < total/100; i++ {
		evs := make([]eventstore.EventData, 100)
		for j := range evs {
			evs[j] = benchEvent(j)
		}
		if _, err := s.Append(context.Background(), fmt.Sprintf("household-%d", i%500), eventstore.Any(), evs...); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			n := 0
			var after eventstore.Position
			for {
				page, err := s.ReadAll(context.Background(), after, 1000)
				if err != nil {
					b.Fatal(err)
				}
				n += len(page)
				if len(page) == 0 {
					break
				}
				after = page[len(page)-1].Position
			}
			if n != total {
				b.Fatalf("read %d events, want %d", n, total)
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("raw", func(b *testing.B) {
		db, err := sql.Open("sqlite", sqlite.DSN(path, true))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for b.Loop() {
			rows, err := db.Query(`SELECT position, id, stream, version, type, schema_version, data, occurred_at, actor, role,
				command_id, correlation_id, causation_id, community, grid, key_id, recorded_at, hash FROM events ORDER BY position`)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var (
					pos, ver, sv, occ, rec                                   int64
					id, data, hash                                           []byte
					stream, typ, actor, role, cmd, corr, caus, com, grd, key string
				)
				if err := rows.Scan(&pos, &id, &stream, &ver, &typ, &sv, &data, &occ, &actor, &role, &cmd, &corr, &caus, &com, &grd, &key, &rec, &hash); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
			rows.Close()
			if n != total {
				b.Fatalf("read %d rows, want %d", n, total)
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
