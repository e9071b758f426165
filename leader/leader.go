// Package leader elects, among several doorstep processes sharing one
// PostgreSQL database, the one process that runs a singleton task — the
// projections, the deadline watcher — at a time.
//
// The lock is a PostgreSQL session-level advisory lock held on a dedicated
// connection: no home-made consensus. When the holder dies, its connection
// closes and PostgreSQL releases the lock; a follower polling every
// Config.Retry takes it over. When the holder loses its connection (a
// network fault, a server restart), its periodic check fails within
// Config.Check and its task's context is cancelled.
//
// Exclusion is therefore not instantaneous: for up to Config.Check a
// process that lost its session may still be finishing work while another
// has taken over. Tasks run this way must be safe under that short overlap:
// the projections commit read models and checkpoint in one transaction, and
// the deadline watcher appends alerts with deterministic event ids.
package leader

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config configures an election.
type Config struct {
	// ConnString is the PostgreSQL connection string. Required.
	ConnString string
	// Name of the singleton role, e.g. "projections". Required; processes
	// competing for the same role must use the same name.
	Name string
	// Retry is how often a follower tries to take the lock; default 1 s.
	Retry time.Duration
	// Check is how often the leader confirms its session is alive; default 1 s.
	Check time.Duration
	// Logger receives leadership changes; default slog.Default().
	Logger *slog.Logger
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.ConnString == "" {
		return errors.New("leader: Config.ConnString is empty; give the PostgreSQL connection string")
	}
	if c.Name == "" {
		return errors.New("leader: Config.Name is empty; name the role being elected")
	}
	if c.Retry < 0 || c.Check < 0 {
		return errors.New("leader: Retry and Check must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Retry == 0 {
		c.Retry = time.Second
	}
	if c.Check == 0 {
		c.Check = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// LockKey is the advisory-lock key of a role name (FNV-1a, 64 bits).
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("doorstep/" + name))
	return int64(h.Sum64())
}

// Run competes for the role until ctx ends. Whenever this process holds the
// lock it calls lead with a context that is cancelled when the lock is lost
// or ctx ends. When lead returns, the lock is released and Run competes
// again after Retry; an error from lead is logged, not fatal. Run returns
// ctx's error once ctx ends, or a configuration error at once.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	key := LockKey(cfg.Name)
	log := cfg.Logger.With("role", cfg.Name)
	for {
		err := tryLead(ctx, cfg, key, log, lead)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			log.Warn("leader election: session failed; competing again", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cfg.Retry):
		}
	}
}

// tryLead connects, tries the lock once and, if it got it, runs lead until
// lead returns or the session fails.
func tryLead(ctx context.Context, cfg Config, key int64, log *slog.Logger, lead func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, cfg.ConnString)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		// ctx has usually ended by now: close under its values, not its
		// cancellation.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(cctx) // closing the session releases the lock
	}()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return fmt.Errorf("try lock: %w", err)
	}
	if !got {
		return nil
	}
	log.Info("leader election: this process now leads")
	lctx, stop := context.WithCancelCause(ctx)
	done := make(chan error, 1)
	go func() { done <- lead(lctx) }()
	tick := time.NewTicker(cfg.Check)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			stop(nil)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error("leader election: task ended with an error; releasing the role", "err", err)
			}
			return nil
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, cfg.Check)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Warn("leader election: lost the PostgreSQL session; stopping the task", "err", err)
				stop(fmt.Errorf("leader: lost leadership of %s: %w", cfg.Name, err))
				awaitStop(done, log)
				return err
			}
		case <-ctx.Done():
			stop(nil)
			awaitStop(done, log)
			return nil
		}
	}
}

// stopWarning is how long a task may take to return after its context was
// cancelled before awaitStop logs that it has not.
var stopWarning = 10 * time.Second

// awaitStop waits for a cancelled task to return. A task that ignores its
// context would keep this process from competing again; that is a bug in
// the task, and the log says so every stopWarning until it returns.
func awaitStop(done <-chan error, log *slog.Logger) {
	t := time.NewTicker(stopWarning)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			log.Error("leader election: the task has not stopped since its context was cancelled; this process cannot compete again until it does",
				"waiting", time.Since(start).Round(time.Second).String())
		}
	}
}
