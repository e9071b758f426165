package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/doorstep/doorstep/account"
	"github.com/doorstep/doorstep/console"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/postgres"
	dhttp "github.com/doorstep/doorstep/http"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/leader"
	"github.com/doorstep/doorstep/logchain"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/flags"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/readmodels"
	"github.com/doorstep/doorstep/projections/rectifications"
	"github.com/doorstep/doorstep/projections/relief"
	"github.com/doorstep/doorstep/projections/worklist"
	"github.com/doorstep/doorstep/rectification"
	"github.com/doorstep/doorstep/relay"
	"github.com/doorstep/doorstep/retention"
	"github.com/doorstep/doorstep/webhook"
)

// runtime is everything a process opens in its data directory: the
// embedded store, the tokens, the key vault, the access log, the command
// service and the read models.
type runtime struct {
	dir    string
	store  eventstore.Store
	tokens *identity.Tokens
	users  *account.Users // the people who sign in to the console
	vault  *keystore.Vault
	kek    *keystore.KEKRing    // wraps the data keys and the webhook secrets
	access dhttp.AccessRecorder // the record of sensitive reads: a file in dir, or a table on PostgreSQL
	app    *command.Service
	cal    *calendar.Calendar // the working-day calendar the service and the projections use
	db     *sql.DB
	rdb    *sql.DB // read-model connections of the queries, apart from the engine's writer
	engine *projections.Engine
	read   dhttp.ReadModels
	// dialect and counter of the read-model database, for the relay.
	dialect projections.Dialect
	counter projections.Counter
	// relay publishes the log to brokers (-relay); nil when none is given.
	relay *relay.Relay
	// webhooks manages and delivers webhook subscriptions (serve); nil in
	// the other commands.
	webhooks *webhook.Manager
	// watcher records deadline alerts; nil when it could not be built
	// (reported by /readyz).
	watcher *deadline.Watcher
	// periods closes measurement periods (decision 0099); nil when it
	// could not be built
	periods *periodclose.Closer
	// cases opens rectification cases on flags (decision 0114); nil when
	// it could not be built
	cases  *rectification.Opener
	closer []func() error
	// signer signs heads of the log while serving (-checkpoint-key); nil: none.
	signer *logchain.Signer
	// revealSigner signs heads of the record of reveals while serving
	// (-checkpoint-key, decision 0111); nil: none.
	revealSigner *accesslog.Signer
	// retention erases closed files whose retention ended (decision 0113).
	retention *retention.Manager
	// electURL, when set (PostgreSQL), makes the deadline watcher a
	// singleton among the nodes sharing the database: it runs only while
	// this node holds the advisory lock of electRole (package cluster).
	electURL, electRole string

	mu    sync.Mutex
	bgErr error // why a background task stopped, for /readyz
}

// storeConfig says which event store to open: the embedded one in the data
// directory (URL empty) or PostgreSQL (URL postgres://…, tables in Schema).
type storeConfig struct {
	URL, Schema string
	// Prefix is the stream prefix on EventStoreDB (URL esdb://…).
	Prefix string
	// ReadModels says where the read models, checkpoints, tokens, keys and
	// the record of sensitive reads live when the events are on
	// EventStoreDB: empty for the embedded files in the data directory, or
	// a postgres:// URL (tables in Schema).
	ReadModels string
	// Calendar is a file with more years of the working-day calendar
	// (-calendar); empty: the shipped years only.
	Calendar string
	// TakeOver lets this process's data directory or -readmodels schema
	// take over an EventStoreDB prefix another one served (claimESDB).
	TakeOver bool
	// KEKFile and KEKOldFile are the key-encrypting keys of the data keys
	// (-kek-file, -kek-old-file; see loadKEKRing).
	KEKFile, KEKOldFile string
}

// openExisting opens the runtime of a command that reads a store which must
// already exist (export, replay, rebuild, relay status, webhook, calendar
// show): it refuses to create an empty one.
func openExisting(ctx context.Context, dir string, st storeConfig) (*runtime, error) {
	if err := needStoreAt(ctx, dir, st); err != nil {
		return nil, err
	}
	return openRuntime(ctx, dir, st, nil)
}

// openRuntime opens everything in dir (and the store st); log receives the
// background tasks' reports (nil: discard). The embedded wiring
// (runtime_embedded.go) keeps everything in dir; the PostgreSQL wiring
// (runtime_postgres.go) keeps the read models, data keys, tokens and the
// record of sensitive reads in the database, shared by every node. Both
// return the same runtime, finished by finish.
func openRuntime(ctx context.Context, dir string, st storeConfig, log *slog.Logger) (*runtime, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cal, err := loadCalendar(st.Calendar)
	if err != nil {
		return nil, err
	}
	warnCalendarGap(log, cal, clock.Now())
	if st.URL != "" && !isPostgresURL(st.URL) && !isESDBURL(st.URL) {
		return nil, usageError{badStoreURL(st.URL)}
	}
	ring, err := loadKEKRing(dir, st, log)
	if err != nil {
		return nil, err
	}
	switch {
	case st.URL == "":
		return openEmbeddedRuntime(ctx, dir, cal, ring, log, nil)
	case isPostgresURL(st.URL):
		return openPostgresRuntime(ctx, dir, st.URL, st, cal, ring, log, nil)
	case isESDBURL(st.URL):
		return openESDBRuntime(ctx, dir, st, cal, ring, log)
	default:
		return nil, usageError{badStoreURL(st.URL)}
	}
}

// parts is what a wiring opened, for finish to build the rest on.
type parts struct {
	keys     keystore.KeyStore // stored wrapped under kek
	kek      *keystore.KEKRing
	vaultCfg keystore.Config
	dialect  projections.Dialect
	counter  projections.Counter // nil: the engine counts by reading the log
	// reads, when set, is a cache of profile rows (only when this process
	// alone applies the profile projection).
	reads *profile.ReadCache
}

// finish builds, on what a wiring opened (rt.store, rt.tokens, rt.access,
// rt.db, rt.rdb and p), the vault, the command service, the projection
// engine, the read models and the deadline watcher. On error it closes rt.
func (rt *runtime) finish(ctx context.Context, p parts, log *slog.Logger) (*runtime, error) {
	fail := func(err error) (*runtime, error) { rt.Close(); return nil, err }
	rt.dialect, rt.counter = p.dialect, p.counter
	keys, err := wrapKeys(ctx, p.keys, p.kek, log)
	if err != nil {
		return fail(err)
	}
	rt.vault, rt.kek = keystore.New(keys, p.vaultCfg), p.kek
	if rt.app, err = command.New(command.Config{Store: rt.store, Sealer: rt.vault, Calendar: rt.cal}); err != nil {
		return fail(err)
	}
	ps := readmodels.AllOpened(rt.app.Policies(), rt.cal, rt.cal.Location(), p.reads, rt.vault)
	profiles := profile.NewReader(rt.rdb, p.dialect)
	if p.reads != nil {
		profiles.WithCache(p.reads)
	}
	rt.engine, err = projections.New(projections.Config{DB: rt.db, Dialect: p.dialect, Store: rt.store, Counter: p.counter, Log: log}, ps...)
	if err != nil {
		return fail(err)
	}
	if err := rt.engine.Init(ctx); err != nil {
		return fail(err)
	}
	rt.closer = append(rt.closer, rt.engine.Close)
	rt.watcher, err = deadline.New(deadline.Config{Store: rt.store, Policies: rt.app.Policies(), Calendar: rt.cal, Commands: rt.app, Logger: log})
	if err != nil {
		rt.bgErr = fmt.Errorf("deadline watcher: %w", err)
	}
	// The closer closes from the month before this start: months before
	// are history the node was not running for.
	now := clock.Now().In(rt.cal.Location())
	from := domain.PeriodMonth.Label(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0), now.Location())
	rt.periods, err = periodclose.New(periodclose.Config{Store: rt.store, Coverage: pcoverage.NewReader(rt.rdb, p.dialect).WithOpener(rt.vault), Resolution: measures.NewReader(rt.rdb, p.dialect),
		Policies: rt.app.Policies(), Calendar: rt.cal, Clock: deadline.RealClock{}, From: from,
		CaughtUp: func(ctx context.Context) error {
			head, err := rt.store.Head(ctx)
			if err != nil {
				return err
			}
			for _, name := range []string{measures.Name, pcoverage.Name} {
				if err := rt.engine.WaitFor(ctx, name, head); err != nil {
					return err
				}
			}
			return nil
		}})
	if err != nil {
		rt.bgErr = fmt.Errorf("period closer: %w", err)
	}
	rt.cases, err = rectification.New(rectification.Config{Store: rt.store, Commands: rt.app, Logger: log})
	if err != nil {
		rt.bgErr = fmt.Errorf("rectification opener: %w", err)
	}
	rt.retention, err = retention.New(retention.Config{Store: rt.store, Commands: rt.app, Clock: deadline.RealClock{}, Logger: log})
	if err != nil {
		rt.bgErr = fmt.Errorf("retention: %w", err)
	}
	rt.read = dhttp.ReadModels{Engine: rt.engine, Profiles: profiles, Alerts: alerts.NewReader(rt.rdb, p.dialect),
		Trail: audit.NewTrail(rt.rdb, p.dialect, rt.store, nil), Measures: measures.NewReader(rt.rdb, p.dialect),
		Coverage: pcoverage.Live{Reader: pcoverage.NewReader(rt.rdb, p.dialect).WithOpener(rt.vault), Policies: rt.app.Policies(), Location: rt.cal.Location()},
		Worklist: worklist.NewReader(rt.rdb, p.dialect), Rectifications: rectifications.NewReader(rt.rdb, p.dialect),
		Flags:  flags.NewReader(rt.rdb, p.dialect),
		Relief: relief.NewReader(rt.rdb, p.dialect),
		Visits: pcoverage.NewReader(rt.rdb, p.dialect).WithOpener(rt.vault)}
	return rt, nil
}

func (rt *runtime) deps(log *slog.Logger) dhttp.Deps {
	d := dhttp.Deps{Store: rt.store, Tokens: rt.tokens, Log: log, Opener: rt.vault, Access: rt.access, Commands: rt.app,
		Read: rt.read, Version: version, Ready: rt.ready, Unavailable: rt.unavailable}
	if rt.users != nil {
		d.Users = rt.users
	}
	d.Console = console.Handler()
	if rt.watcher != nil {
		d.Deadlines = rt.watcher
	}
	if rt.retention != nil {
		d.Retention = rt.retention
	}
	return d
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
	if rt.electURL != "" {
		// Several nodes may share the database: one of them, elected,
		// runs the projections and the deadline watcher; the others
		// answer from the shared read models and stand by.
		elected := func(ctx context.Context) error {
			return leader.Run(ctx, leader.Config{ConnString: rt.electURL, Name: rt.electRole, Logger: log}, func(ctx context.Context) error {
				log.Info("projections and deadline watcher: this node runs them / 本节点运行投影和期限监视器", "role", rt.electRole)
				tasks := []func(context.Context) error{rt.engine.Run}
				if rt.watcher != nil {
					tasks = append(tasks, rt.watcher.Run)
				}
				if rt.periods != nil {
					tasks = append(tasks, rt.periods.Run)
				}
				if rt.cases != nil {
					tasks = append(tasks, rt.cases.Run)
				}
				if rt.retention != nil {
					tasks = append(tasks, rt.retention.Run)
				}
				if rt.signer != nil {
					tasks = append(tasks, rt.signer.Run)
				}
				if rt.revealSigner != nil {
					tasks = append(tasks, rt.revealSigner.Run)
				}
				if rt.relay != nil {
					log.Info("broker relay: this node runs it / 本节点运行消息中继")
					tasks = append(tasks, rt.relay.Run)
				}
				if rt.webhooks != nil {
					tasks = append(tasks, rt.webhooks.Run)
				}
				rt.setBgErr(nil)
				err := runAll(ctx, tasks...)
				if err != nil && ctx.Err() == nil && !rt.unavailable(err) {
					// Not an outage: /readyz says so until a new
					// term starts (leader.Run competes again).
					rt.setBgErr(fmt.Errorf("projections or deadline watcher stopped: %w", err))
				}
				return err
			})
		}
		run("background tasks", elected)
	} else {
		run("projections", rt.engine.Run)
		if rt.watcher != nil {
			run("deadline watcher", rt.watcher.Run)
		}
		if rt.periods != nil {
			run("period closer", rt.periods.Run)
		}
		if rt.cases != nil {
			run("rectification opener", rt.cases.Run)
		}
		if rt.retention != nil {
			run("retention", rt.retention.Run)
		}
		if rt.signer != nil {
			run("signed heads", rt.signer.Run)
		}
		if rt.revealSigner != nil {
			run("signed heads of the record of reveals", rt.revealSigner.Run)
		}
		if rt.relay != nil {
			run("broker relay", rt.relay.Run)
		}
		if rt.webhooks != nil {
			run("webhooks", rt.webhooks.Run)
		}
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

func (rt *runtime) setBgErr(err error) {
	rt.mu.Lock()
	rt.bgErr = err
	rt.mu.Unlock()
}

// unavailable reports whether err means the database cannot be reached
// right now (PostgreSQL restarting, a network fault).
func (rt *runtime) unavailable(err error) bool {
	return errors.Is(err, eventstore.ErrUnavailable) || (rt.electURL != "" && postgres.Unavailable(err))
}

// runAll runs tasks concurrently until ctx ends or one of them fails; then
// it cancels the others, waits for them and returns the first error.
func runAll(ctx context.Context, tasks ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errs <- task(ctx) }()
	}
	var first error
	for range tasks {
		if err := <-errs; first == nil {
			first = err
			cancel()
		}
	}
	return first
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
