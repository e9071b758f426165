package main

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/doorstep/doorstep/account"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
)

// keyCacheTTL bounds how long a node uses a household's data key without
// reading it again from PostgreSQL: an erasure made on another node takes
// effect here within this time.
const keyCacheTTL = 10 * time.Second

// poolMaxConns is the size of the process's one pool unless the URL sets
// pool_max_conns: the store's writers (4) and its horizon, the engine (4),
// the queries (16), keys and the record of sensitive reads, with room.
const poolMaxConns = 40

// openPostgresRuntime wires a node on PostgreSQL: one pool for the process
// (openPool), shared by the event store, the tokens, the data keys, the
// record of sensitive reads and the read models (database/sql over the same
// pool). Everything clients see lives in the schema, shared by every node
// (decision 0041); dir only has to exist.
//
// One thing keeps a connection of its own: the leader lease (cluster.Run,
// a session advisory lock that must live on a dedicated session, see
// runBackground). The token set's listener takes one connection out of the
// pool for as long as it runs.
//
// pgURL is the database; with events set (EventStoreDB) the events live
// there and everything else in the database, and the runtime closes events.
func openPostgresRuntime(ctx context.Context, dir, pgURL string, st storeConfig, cal *calendar.Calendar, kek *keystore.KEKRing, log *slog.Logger, events eventstore.Store) (*runtime, error) {
	closeEvents := func() {
		if events != nil {
			events.Close()
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		closeEvents()
		return nil, err
	}
	schema := st.Schema
	if schema == "" {
		schema = "doorstep"
	}
	pool, err := openPool(ctx, pgURL, schema)
	if err != nil {
		closeEvents()
		return nil, err
	}
	rt := &runtime{dir: dir, cal: cal, electURL: pgURL, electRole: "background/" + schema}
	rt.closer = append(rt.closer, func() error { pool.Close(); return nil })
	fail := func(err error) (*runtime, error) { rt.Close(); return nil, err }
	if events != nil {
		rt.store = events
	} else {
		s, err := postgres.Open(ctx, postgres.Config{Pool: pool, Schema: schema})
		if err != nil {
			return fail(err)
		}
		rt.store = s
	}
	rt.closer = append(rt.closer, rt.store.Close)
	// Nodes behind one load balancer accept the same tokens; a token
	// revoked on one node stops working on the others at once (LISTEN on
	// a connection taken from the pool).
	if rt.tokens, err = identity.NewPostgresTokens(ctx, pool, schema); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, func() error { rt.tokens.Close(); return nil })
	if rt.users, err = account.NewPostgres(ctx, pool, schema); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, func() error { rt.users.Close(); return nil })
	// Nodes sharing the database share the households' data keys; an
	// erasure made on another node is honoured within CacheTTL.
	keys, err := keystore.NewPostgres(ctx, pool, schema)
	if err != nil {
		return fail(err)
	}
	// Nodes may be replaced with their disks: the record of sensitive
	// reads lives with the data, in one place for auditors.
	if rt.access, err = accesslog.NewPostgres(ctx, pool, schema, nil); err != nil {
		return fail(err)
	}
	// The read models live in the schema (the pool's search path), shared
	// by every node: the elected node applies events, every node answers
	// queries from them (decision 0041). The engine and the queries each
	// keep their connections (and prepared statements) idle in their
	// database/sql handle, so neither queues behind the other.
	rt.db = readModelDB(pool, 4)
	rt.closer = append(rt.closer, rt.db.Close)
	rt.rdb = readModelDB(pool, 16)
	rt.closer = append(rt.closer, rt.rdb.Close)
	// No profile read cache: another node may apply the projection.
	return rt.finish(ctx, parts{keys: keys, kek: kek, vaultCfg: keystore.Config{CacheTTL: keyCacheTTL}, dialect: projections.Postgres}, log)
}

// openPool opens the process's one PostgreSQL pool: search path schema (the
// read models' unqualified tables), idle transactions bounded
// (postgres.BoundIdleTransactions), poolMaxConns connections unless the URL
// says otherwise.
func openPool(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL %s: %w", redactURL(url), err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = poolMaxConns
	}
	pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	postgres.BoundIdleTransactions(pc.ConnConfig.RuntimeParams)
	// Connections are made on first use: an unreachable server is reported
	// by postgres.Open, as eventstore.ErrUnavailable.
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL %s: %w", redactURL(url), err)
	}
	return pool, nil
}

// readModelDB is a database/sql handle (pgx's driver) over the process's
// pool for the read models, keeping up to conns connections of the pool.
// Closing it leaves the pool open.
func readModelDB(pool *pgxpool.Pool, conns int) *sql.DB {
	db := stdlib.OpenDBFromPool(pool)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db
}
