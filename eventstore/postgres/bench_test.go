package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/internal/clock"
)

// The benchmarks put the store beside raw pgx in one run, against the same
// server. Each benchmark runs both sides in alternating short phases and
// reports store-events/s, raw-events/s and store/raw-%: on a machine shared
// with other work the load drifts, and sides run one after the other would
// compare two different machines.
//
// Raw pgx writes the same rows (hash chain included) into a table created
// by the store's migration, with the store's own INSERT statement:
//   - single events: one autocommit INSERT per event (one transaction, one
//     round trip), on a pool with one connection per writer;
//   - batches of 100: one pgx.Batch of 100 INSERTs, which pgx sends as one
//     pipeline in one implicit transaction.
//
// Every commit is durable (synchronous_commit as the server has it, "on").
//
//	go test -run '^$' -bench . -benchtime 2s ./eventstore/postgres/

func benchEvent(i int) eventstore.EventData {
	return eventstore.EventData{
		ID: eventstore.NewID(), Type: "visit.recorded",
		Data:     fmt.Appendf(nil, `{"household":"h-%d","mode":"home","team":["网格员-李明","社工-王芳"],"outcome":"completed","observations":"老人独居，身体状况稳定，需定期随访","problems":[]}`, i),
		Metadata: eventstore.Metadata{OccurredAt: clock.Now(), Actor: "worker-17", Role: "worker", CommandID: uuid.NewString(), Community: "幸福里社区", Grid: "g-03"},
	}
}

func rawArgs(e *eventstore.Event, seq int32) []any {
	m := &e.Metadata
	return []any{seq, [16]byte(e.ID), e.Stream, int64(e.Version), e.Type, int32(e.SchemaVersion), []byte(e.Data),
		eventstore.UnixNanos(m.OccurredAt), m.Actor, m.Role, m.CommandID, m.CorrelationID, m.CausationID,
		m.Community, m.Grid, m.KeyID, eventstore.UnixNanos(e.RecordedAt), e.Hash[:]}
}

// rawInsert writes events as plain pgx would: one INSERT per event, all of
// a call in one transaction (autocommit for one event, a pipelined batch
// for more).
func rawInsert(ctx context.Context, pool *pgxpool.Pool, insert, stream string, version uint64, prev *[32]byte, events []eventstore.EventData) error {
	now := clock.Now()
	if len(events) == 1 {
		e := eventstore.Seal(*prev, stream, version+1, now, &events[0])
		*prev = e.Hash
		_, err := pool.Exec(ctx, insert, rawArgs(&e, 1)...)
		return err
	}
	b := &pgx.Batch{}
	for i := range events {
		version++
		e := eventstore.Seal(*prev, stream, version, now, &events[i])
		*prev = e.Hash
		b.Queue(insert, rawArgs(&e, int32(i+1))...)
	}
	return pool.SendBatch(ctx, b).Close()
}

// appendFunc appends evs to stream, which is at version with the given
// last hash (raw pgx keeps the chain itself; the store ignores it).
type appendFunc func(stream string, version uint64, prev *[32]byte, evs []eventstore.EventData) error

// runSide is one side of a comparison: its own streams, one per writer,
// and the time it has spent.
type runSide struct {
	name     string
	fn       appendFunc
	streams  []string
	versions []uint64
	prevs    [][32]byte
	ops      int
	elapsed  time.Duration
}

// runPair runs b.N appends of batch events, half through each side, with
// writers goroutines per side, alternating between the sides in short
// phases so that both see the same machine: the load of other processes
// on a shared machine drifts over seconds and would otherwise favour
// whichever side ran at the quieter moment. It reports events/s of each
// side and the store's rate as a percentage of raw.
func runPair(b *testing.B, writers, batch int, sides [2]*runSide) {
	phase := writers * 25
	if batch > 1 {
		phase = 10
	}
	for _, sd := range sides {
		sd.streams = make([]string, writers)
		sd.versions = make([]uint64, writers)
		sd.prevs = make([][32]byte, writers)
		for w := range sd.streams {
			sd.streams[w] = "household-" + uuid.NewString()
		}
	}
	runPhase := func(sd *runSide, n int) {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		start := time.Now()
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					evs := make([]eventstore.EventData, batch)
					for i := range evs {
						evs[i] = benchEvent(i)
					}
					if err := sd.fn(sd.streams[w], sd.versions[w], &sd.prevs[w], evs); err != nil {
						errs <- fmt.Errorf("%s: %w", sd.name, err)
						return
					}
					sd.versions[w] += uint64(batch)
				}
			}()
		}
		wg.Wait()
		sd.elapsed += time.Since(start)
		sd.ops += n
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	half := (b.N + 1) / 2
	for sides[0].ops < half || sides[1].ops < half {
		for _, sd := range sides {
			if n := min(phase, half-sd.ops); n > 0 {
				runPhase(sd, n)
			}
		}
	}
	b.StopTimer()
	rate := func(sd *runSide) float64 { return float64(sd.ops*batch) / sd.elapsed.Seconds() }
	b.ReportMetric(rate(sides[0]), sides[0].name+"-events/s")
	b.ReportMetric(rate(sides[1]), sides[1].name+"-events/s")
	b.ReportMetric(100*rate(sides[0])/rate(sides[1]), "store/raw-%")
}

// BenchmarkAppend compares appends through the store with raw pgx
// inserts: single events with 1, 8 and 32 writers, and batches of 100.
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
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := mustOpen(b, postgres.Config{Schema: newSchema(b)})
			defer s.Close()
			store := &runSide{name: "store", fn: func(stream string, version uint64, _ *[32]byte, evs []eventstore.EventData) error {
				_, err := s.Append(ctx, stream, eventstore.Exact(version), evs...)
				return err
			}}

			schema := newSchema(b)
			mustOpen(b, postgres.Config{Schema: schema}).Close() // create the table
			pc, err := pgxpool.ParseConfig(testURL())
			if err != nil {
				b.Fatal(err)
			}
			pc.MaxConns = int32(c.writers)
			pool, err := pgxpool.NewWithConfig(ctx, pc)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			insert := postgres.InsertSQL(schema)
			raw := &runSide{name: "raw", fn: func(stream string, version uint64, prev *[32]byte, evs []eventstore.EventData) error {
				return rawInsert(ctx, pool, insert, stream, version, prev, evs)
			}}
			runPair(b, c.writers, c.batch, [2]*runSide{store, raw})
			st := s.Stats()
			b.ReportMetric(float64(st.Appends)/float64(st.Transactions), "appends/txn")
			b.ReportMetric(float64(st.HeldGroups)/float64(st.Transactions), "held/txn")
		})
	}
}

// BenchmarkReadAll reads a log of 100,000 events from start to end, in
// turns: the store through ReadAll (pages of 1000) into envelopes, and raw
// pgx by scanning the same columns of the same table, in the same order,
// into plain variables (one query).
func BenchmarkReadAll(b *testing.B) {
	const total = 100_000
	ctx := context.Background()
	schema := newSchema(b)
	s := mustOpen(b, postgres.Config{Schema: schema})
	defer s.Close()
	for i := 0; i < total/100; i++ {
		evs := make([]eventstore.EventData, 100)
		for j := range evs {
			evs[j] = benchEvent(j)
		}
		if _, err := s.Append(ctx, fmt.Sprintf("household-%d", i%500), eventstore.Any(), evs...); err != nil {
			b.Fatal(err)
		}
	}
	readStore := func() {
		n := 0
		var after eventstore.Position
		for {
			page, err := s.ReadAll(ctx, after, 1000)
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
	q := `SELECT transaction_id, seq, id, stream, version, type, schema_version, data, occurred_at, actor, role,
		command_id, correlation_id, causation_id, community, grid, key_id, recorded_at, hash
		FROM ` + pgx.Identifier{schema, "events"}.Sanitize() + ` ORDER BY transaction_id, seq`
	readRaw := func() {
		rows, err := s.Pool().Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var (
				xid                                                      uint64
				seq, sv                                                  int32
				ver, occ, rec                                            int64
				id                                                       [16]byte
				data, hash                                               []byte
				stream, typ, actor, role, cmd, corr, caus, com, grd, key string
			)
			if err := rows.Scan(&xid, &seq, &id, &stream, &ver, &typ, &sv, &data, &occ, &actor, &role, &cmd, &corr, &caus, &com, &grd, &key, &rec, &hash); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		if n != total {
			b.Fatalf("read %d rows, want %d", n, total)
		}
	}
	// Alternate the two readers so that both see the same machine.
	var storeTime, rawTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		readStore()
		t1 := time.Now()
		readRaw()
		storeTime += t1.Sub(t0)
		rawTime += time.Since(t1)
	}
	storeRate := float64(total*b.N) / storeTime.Seconds()
	rawRate := float64(total*b.N) / rawTime.Seconds()
	b.ReportMetric(storeRate, "store-events/s")
	b.ReportMetric(rawRate, "raw-events/s")
	b.ReportMetric(100*storeRate/rawRate, "store/raw-%")
}
