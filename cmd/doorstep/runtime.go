package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/doorstep/doorstep/app"
	"github.com/doorstep/doorstep/cluster"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	dhttp "github.com/doorstep/doorstep/http"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	"github.com/doorstep/doorstep/projections/deadline"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/readmodels"
)

// runtime is everything a process opens in its data directory: the
// embedded store, the tokens, the key vault, the access log, the command
// service and the read models.
type runtime struct {
	dir    string
	store  eventstore.Store
	tokens *dhttp.Tokens
	vault  *keystore.Vault
	access *dhttp.AccessLog
	app    *app.Service
	db     *sql.DB
	rdb    *sql.DB // read-model connections of the queries, apart from the engine's writer
	engine *projections.Engine
	read   dhttp.ReadModels
	// watcher records deadline alerts; nil when it could not be built
	// (reported by /readyz).
	watcher *deadline.Watcher
	closer  []func() error
	// electURL, when set (PostgreSQL), makes the deadline watcher a
	// singleton among the nodes sharing the database: it runs only while
	// this node holds the advisory lock of electRole (package cluster).
	electURL, electRole string

	mu    sync.Mutex
	bgErr error // why a background task stopped, for /readyz
	// secretaries names each community's supervisor when the data
	// directory holds a synthetic town (demo); tokens name the others.
	secretaries map[string]string
}

// supervisor names the supervisor an alert of a community goes to.
func (rt *runtime) supervisor(s deadline.Subject) string {
	rt.mu.Lock()
	name := rt.secretaries[s.Community]
	rt.mu.Unlock()
	if name != "" {
		return name
	}
	return rt.tokens.Supervisor(s.Community)
}

// storeConfig says which event store to open: the embedded one in the data
// directory (URL empty) or PostgreSQL (URL postgres://…, tables in Schema).
type storeConfig struct {
	URL, Schema string
}

// openRuntime opens everything in dir (and the store st); log receives the
// background tasks' reports (nil: discard). With PostgreSQL the read
// models, tokens, keys and access log still live in dir: one node serves.
func openRuntime(ctx context.Context, dir string, st storeConfig, log *slog.Logger) (*runtime, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var s eventstore.Store
	var err error
	embedded := st.URL == ""
	switch {
	case embedded:
		s, err = openEmbedded(ctx, dir)
	case strings.HasPrefix(st.URL, "postgres://") || strings.HasPrefix(st.URL, "postgresql://"):
		if err = os.MkdirAll(dir, 0o700); err == nil {
			s, err = postgres.Open(ctx, postgres.Config{URL: st.URL, Schema: st.Schema})
		}
	default:
		return nil, usageError{fmt.Sprintf("doorstep: -store %q: give a postgres:// URL, or leave it empty for the embedded store / 存储地址无效", redactURL(st.URL))}
	}
	if err != nil {
		return nil, err
	}
	rt := &runtime{dir: dir, store: s}
	if !embedded {
		schema := st.Schema
		if schema == "" {
			schema = "doorstep"
		}
		rt.electURL, rt.electRole = st.URL, "deadline-watcher/"+schema
	}
	rt.closer = append(rt.closer, s.Close)
	fail := func(err error) (*runtime, error) { rt.Close(); return nil, err }
	if rt.tokens, err = dhttp.OpenTokens(filepath.Join(dir, dhttp.TokensFile)); err != nil {
		return fail(err)
	}
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		return fail(err)
	}
	rt.vault = keystore.New(keys, keystore.Config{})
	if rt.access, err = dhttp.OpenAccessLog(filepath.Join(dir, dhttp.AccessFile), nil); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, rt.access.Close)
	if rt.app, err = app.New(app.Config{Store: s, Sealer: rt.vault}); err != nil {
		return fail(err)
	}
	eventsPath := filepath.Join(dir, "events.db")
	if rt.db, err = projections.OpenSQLite(ctx, projections.ReadModelPath(eventsPath)); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, rt.db.Close)
	// Queries get their own pool: in WAL mode they read beside the
	// engine's write transactions instead of queueing behind them for one
	// of the engine pool's few connections.
	if rt.rdb, err = projections.OpenSQLite(ctx, projections.ReadModelPath(eventsPath)); err != nil {
		return fail(err)
	}
	rt.rdb.SetMaxOpenConns(8)
	rt.rdb.SetMaxIdleConns(8)
	rt.closer = append(rt.closer, rt.rdb.Close)
	var counter projections.Counter
	if embedded {
		c, closeCounter, err := projections.SQLiteCounter(eventsPath)
		if err != nil {
			return fail(err)
		}
		counter = c
		rt.closer = append(rt.closer, closeCounter)
	}
	cal := rt.app.Calendar()
	rt.engine, err = projections.New(projections.Config{DB: rt.db, Store: s, Counter: counter},
		readmodels.All(rt.app.Policies(), cal, cal.Location())...)
	if err != nil {
		return fail(err)
	}
	if err := rt.engine.Init(ctx); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, rt.engine.Close)
	rt.watcher, err = deadline.New(deadline.Config{Store: s, Policies: rt.app.Policies(), Calendar: cal, Logger: log, Supervisor: rt.supervisor})
	if err != nil {
		rt.bgErr = fmt.Errorf("deadline watcher: %w", err)
	}
	rt.read = dhttp.ReadModels{Engine: rt.engine, Profiles: profile.NewReader(rt.rdb, projections.SQLite), Alerts: alerts.NewReader(rt.rdb, projections.SQLite),
		Trail: audit.NewTrail(rt.rdb, projections.SQLite, s, nil), Measures: measures.NewReader(rt.rdb, projections.SQLite)}
	return rt, nil
}

func (rt *runtime) deps(log *slog.Logger) dhttp.Deps {
	return dhttp.Deps{Store: rt.store, Tokens: rt.tokens, Log: log, Opener: rt.vault, Access: rt.access, Commands: rt.app,
		Read: rt.read, Version: version, Ready: rt.ready}
}

// ready fails once a background task (projections, deadline watcher) stopped.
func (rt *runtime) ready(ctx context.Context) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.bgErr
}

// runBackground runs the projection engine and the deadline watcher until
// ctx ends; the returned channel closes when both have stopped.
func (rt *runtime) runBackground(ctx context.Context, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A task stopped by an unavailable store (PostgreSQL restarting,
			// a network fault) is restarted from its checkpoint with a
			// growing pause; /readyz reports it meanwhile. Any other
			// error stops it for good.
			pause := 500 * time.Millisecond
			for {
				err := f(ctx)
				if err == nil || ctx.Err() != nil {
					return
				}
				rt.mu.Lock()
				rt.bgErr = fmt.Errorf("%s stopped: %w", name, err)
				rt.mu.Unlock()
				if !errors.Is(err, eventstore.ErrUnavailable) {
					log.Error(name+" stopped", "error", err.Error())
					return
				}
				log.Warn(name+" paused: the store is unavailable; retrying / 存储不可用，稍后重试", "error", err.Error(), "retry_in", pause.String())
				select {
				case <-ctx.Done():
					return
				case <-time.After(pause):
				}
				pause = min(2*pause, 2*time.Second)
				rt.mu.Lock()
				rt.bgErr = nil
				rt.mu.Unlock()
			}
		}()
	}
	run("projections", rt.engine.Run)
	if rt.watcher != nil && rt.electURL != "" {
		elected := func(ctx context.Context) error {
			return cluster.Run(ctx, cluster.Config{ConnString: rt.electURL, Name: rt.electRole, Logger: log}, func(ctx context.Context) error {
				log.Info("deadline watcher: this node runs it / 本节点运行期限监视器", "role", rt.electRole)
				return rt.watcher.Run(ctx)
			})
		}
		run("deadline watcher", elected)
	} else if rt.watcher != nil {
		run("deadline watcher", rt.watcher.Run)
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// Close closes what openRuntime opened, in reverse order.
func (rt *runtime) Close() error {
	var errs []error
	for i := len(rt.closer) - 1; i >= 0; i-- {
		errs = append(errs, rt.closer[i]())
	}
	return errors.Join(errs...)
}

// redactURL drops the password from a store URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
