package main

import (
	"context"
	"fmt"
	"github.com/doorstep/doorstep/account"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/profile"
)

// openEmbeddedRuntime wires one process on the embedded store: everything
// lives in dir (events.db, the read models beside it, keys/, the token file,
// the record of sensitive reads). With events set (EventStoreDB), the events
// live there and everything else in dir; the runtime closes events.
func openEmbeddedRuntime(ctx context.Context, dir string, cal *calendar.Calendar, kek *keystore.KEKRing, log *slog.Logger, events eventstore.Store) (*runtime, error) {
	var s eventstore.Store = events
	if events == nil {
		es, err := openEmbedded(ctx, dir)
		if err != nil {
			return nil, err
		}
		s = es
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		events.Close()
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	var err error
	rt := &runtime{dir: dir, store: s, cal: cal}
	rt.closer = append(rt.closer, s.Close)
	fail := func(err error) (*runtime, error) { rt.Close(); return nil, err }
	if rt.tokens, err = identity.OpenTokens(filepath.Join(dir, identity.TokensFile)); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, func() error { rt.tokens.Close(); return nil })
	if rt.users, err = account.OpenFile(ctx, filepath.Join(dir, account.FileName)); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, func() error { rt.users.Close(); return nil })
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		return fail(err)
	}
	al, err := accesslog.OpenFile(filepath.Join(dir, accesslog.FileName), nil)
	if err != nil {
		return fail(err)
	}
	rt.access = al
	rt.closer = append(rt.closer, al.Close)
	eventsPath := filepath.Join(dir, "events.db")
	if rt.db, err = projections.OpenSQLite(ctx, projections.ReadModelPath(eventsPath)); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, rt.db.Close)
	// Queries get their own pool: in WAL mode they read beside the
	// engine's write transactions instead of queueing behind them for one
	// of the engine pool's few connections.
	if rt.rdb, err = projections.OpenSQLiteQueries(ctx, projections.ReadModelPath(eventsPath)); err != nil {
		return fail(err)
	}
	rt.rdb.SetMaxOpenConns(8)
	rt.rdb.SetMaxIdleConns(8)
	rt.closer = append(rt.closer, rt.rdb.Close)
	var counter projections.Counter // nil on EventStoreDB: the engine counts by reading the log
	if events == nil {
		c, closeCounter, err := projections.SQLiteCounter(eventsPath)
		if err != nil {
			return fail(err)
		}
		rt.closer = append(rt.closer, closeCounter)
		counter = c
	}
	// This process alone applies the profile projection: its readers may
	// keep what they read, dropped as batches change it.
	return rt.finish(ctx, parts{keys: keys, kek: kek, dialect: projections.SQLite, counter: counter, reads: profile.NewReadCache(0)}, log)
}
