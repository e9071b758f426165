// Package testenv sets up event stores, read-model databases, policy and
// calendar for the projection tests.
//
// The read models run on SQLite (a file beside the events file, as in
// production on the embedded store) unless the environment variable
// DOORSTEP_TEST_READMODELS is "postgres": then every environment's read
// models live in a fresh schema of the PostgreSQL server at
// DOORSTEP_TEST_POSTGRES (pgtest.SharedURL), dropped at the end of the
// test. The event log stays the embedded SQLite store in both cases.
// PostgreSQL requested but unreachable fails the test; it is never skipped.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventlog"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/projections"
)

// Env is a store in a temp dir plus a read-model database (SQLite beside
// it, or a PostgreSQL schema; see the package comment).
type Env struct {
	Dir     string
	Store   *sqlite.Store
	DB      *sql.DB
	Dialect projections.Dialect // of DB: give it to readers and to projections.Config
	// Schema is the PostgreSQL schema of DB ("" on SQLite); OpenPostgres
	// opens another pool on it (e.g. in a child process).
	Schema   string
	Policies *domain.PolicySet
	Cal      *calendar.Calendar
	Loc      *time.Location
}

// New opens a fresh environment, closed at the end of the test.
func New(tb testing.TB) *Env {
	tb.Helper()
	return NewAt(tb, tb.TempDir())
}

// NewAt opens the environment in dir: the events file events.db and, on
// SQLite, the read models in events.readmodels.db.
func NewAt(tb testing.TB, dir string) *Env {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "events.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	e := &Env{Dir: dir, Store: s}
	// Registered after the store's cleanup, so the read models close (and
	// their schema is dropped) first.
	e.DB, e.Dialect, e.Schema = openReadModels(tb, projections.ReadModelPath(path))
	e.Policies, e.Cal = Policies(tb)
	e.Loc = e.Cal.Location()
	return e
}

// ReadModelsEnv is the environment variable that selects where the read
// models of the projection tests run: "sqlite" (or unset) or "postgres".
const ReadModelsEnv = "DOORSTEP_TEST_READMODELS"

// PostgresEnv is the environment variable that overrides URL.
const PostgresEnv = pgtest.SharedEnv

// OnPostgres reports whether ReadModelsEnv asks for PostgreSQL; it fails
// the test on a value it does not know.
func OnPostgres(tb testing.TB) bool {
	tb.Helper()
	switch v := os.Getenv(ReadModelsEnv); v {
	case "", "sqlite":
		return false
	case "postgres":
		return true
	default:
		tb.Fatalf("%s=%q: want \"sqlite\" (the default) or \"postgres\"", ReadModelsEnv, v)
		return false
	}
}

// ReadModels opens a fresh, empty read-model database of the kind
// ReadModelsEnv selects, closed (and, on PostgreSQL, dropped) at the end of
// the test: the SQLite file at path, or a new PostgreSQL schema.
func ReadModels(tb testing.TB, path string) (*sql.DB, projections.Dialect) {
	tb.Helper()
	db, d, _ := openReadModels(tb, path)
	return db, d
}

func openReadModels(tb testing.TB, path string) (*sql.DB, projections.Dialect, string) {
	tb.Helper()
	if OnPostgres(tb) {
		db, schema := Postgres(tb)
		return db, projections.Postgres, schema
	}
	db, err := projections.OpenSQLite(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, projections.SQLite, ""
}

// URL returns the URL of the tests' PostgreSQL server.
func URL() string { return pgtest.SharedURL() }

// Postgres creates a fresh schema on the tests' PostgreSQL server, whatever
// ReadModelsEnv says, and returns a database/sql pool (pgx) whose search
// path is that schema. The pool is closed and the schema dropped at the end
// of the test. An unreachable server fails the test.
func Postgres(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	ctx := context.Background()
	admin, err := OpenPostgres(ctx, "")
	if err != nil {
		tb.Fatalf("%v\nStart PostgreSQL with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point %s at a server (%s=postgres asks for it)", err, PostgresEnv, ReadModelsEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rm_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		admin.Close()
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	db, err := OpenPostgres(ctx, schema)
	if err == nil {
		// Enough connections for an engine beside concurrent readers, but
		// bounded: many test packages share one server.
		db.SetMaxOpenConns(8)
	}
	tb.Cleanup(func() {
		if db != nil {
			db.Close()
		}
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
	return db, schema
}

// OpenPostgres opens a database/sql pool (pgx stdlib) on the tests'
// PostgreSQL server with search_path set to schema (the server's default
// if ""), and checks that the server answers. It does not need a test, so
// that a child process can reopen an environment's schema (Env.Schema).
func OpenPostgres(ctx context.Context, schema string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(URL())
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL in %s or the default: %w", PostgresEnv, err)
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	db := stdlib.OpenDB(*cfg)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("PostgreSQL is not reachable at %s@%s:%d/%s: %w", cfg.User, cfg.Host, cfg.Port, cfg.Database, err)
	}
	return db, nil
}

// Policies returns the default policy set and calendar.
func Policies(tb testing.TB) (*domain.PolicySet, *calendar.Calendar) {
	tb.Helper()
	ps, err := domain.DefaultPolicySet()
	if err != nil {
		tb.Fatal(err)
	}
	cal, err := calendar.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return ps, cal
}

// Do returns a function that encodes the events a command returned and
// appends them to stream, failing the test on any error:
// env.Do(t, stream, meta)(agg.Command(meta, …)).
func (e *Env) Do(tb testing.TB, stream string, meta domain.Meta) func([]domain.Event, error) eventstore.AppendResult {
	return func(evs []domain.Event, err error) eventstore.AppendResult {
		tb.Helper()
		return e.append(tb, stream, meta, evs, err)
	}
}

func (e *Env) append(tb testing.TB, stream string, meta domain.Meta, evs []domain.Event, err error) eventstore.AppendResult {
	tb.Helper()
	if err != nil {
		tb.Fatalf("command on %s: %v", stream, err)
	}
	var data []eventstore.EventData
	for _, ev := range evs {
		d, err := eventlog.Encode(eventstore.NewID(), ev, eventlog.Envelope{At: meta.At, Actor: meta.Actor, Role: meta.Role}.Metadata())
		if err != nil {
			tb.Fatal(err)
		}
		data = append(data, d)
	}
	res, err := e.Store.Append(context.Background(), stream, eventstore.Any(), data...)
	if err != nil {
		tb.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

// Load folds a stream into agg.
func (e *Env) Load(tb testing.TB, stream string, agg domain.Aggregate) {
	tb.Helper()
	if _, err := eventlog.Load(context.Background(), e.Store, domain.NewRegistry(), stream, agg, domain.AsOf{}); err != nil {
		tb.Fatal(err)
	}
}

// Meta is a command's meta at t.
func Meta(actor, role string, t time.Time) domain.Meta {
	return domain.Meta{Actor: actor, Role: role, At: t, CommandID: fmt.Sprint(t.UnixNano())}
}

// Capped shows an engine the log only up to *Limit, so that a test can
// hand the log over in steps (or to two engines in turns).
type Capped struct {
	eventstore.Store
	Limit *eventstore.Position
}

// ReadAll reads the log as the store does, stopping after *Limit.
func (c Capped) ReadAll(ctx context.Context, after eventstore.Position, n int) ([]eventstore.Event, error) {
	page, err := c.Store.ReadAll(ctx, after, n)
	for i, ev := range page {
		if c.Limit.Before(ev.Position) {
			return page[:i], err
		}
	}
	return page, err
}

// Evidence completes a visit for tests with what the shipped policy asks
// of a completed home visit to any class (decision 0120): the team with
// roles read from the names ("网格员…", "社工…", "医生…", "志愿者…", "书记…";
// others grid workers), the recorder (actor) added when not on it, a grid
// worker, a doctor and a volunteer added when missing, a purpose, the five
// understandings, the next contact and a check-in at the visit.
func Evidence(actor string, in domain.RecordVisit) domain.RecordVisit {
	roleOf := func(p string) domain.TeamRole {
		for prefix, r := range map[string]domain.TeamRole{"网格员": domain.TeamGridWorker, "社工": domain.TeamSocialWorker,
			"医生": domain.TeamDoctor, "志愿者": domain.TeamVolunteer, "书记": domain.TeamSecretary} {
			if strings.HasPrefix(p, prefix) {
				return r
			}
		}
		return domain.TeamGridWorker
	}
	team := slices.Clone(in.Team)
	if !slices.Contains(team, actor) {
		team = append([]string{actor}, team...)
	}
	in.Members = nil
	has := map[domain.TeamRole]bool{}
	for _, p := range team {
		in.Members = append(in.Members, domain.TeamMember{Person: p, Role: roleOf(p)})
		has[roleOf(p)] = true
	}
	for _, need := range []domain.TeamMember{{Person: "医生王", Role: domain.TeamDoctor}, {Person: "志愿者小陈", Role: domain.TeamVolunteer}} {
		if !has[need.Role] && !slices.Contains(team, need.Person) {
			in.Members = append(in.Members, need)
		}
	}
	in.Team = nil
	if in.Outcome != domain.OutcomeCompleted {
		return in
	}
	in.Purpose = domain.PurposeRoutine
	in.Covered = domain.FiveUnderstandings()
	in.NextContact = &domain.NextContact{Person: in.Members[0].Person, At: in.OccurredAt.Add(7 * 24 * time.Hour)}
	c := domain.CheckIn{Ref: "checkin-1"}
	if in.CheckIn != nil {
		c = *in.CheckIn
	}
	c.At = in.OccurredAt
	in.CheckIn = &c
	return in
}
