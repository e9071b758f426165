package main

import (
	"context"
	"fmt"
	"github.com/doorstep/doorstep/keystore"
	"log/slog"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore/esdb"
)

// isESDBURL reports whether u names an EventStoreDB/KurrentDB server.
func isESDBURL(u string) bool {
	for _, p := range []string{"esdb://", "esdb+discover://", "kurrentdb://", "kurrentdb+discover://"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// badStoreURL is the message for a -store that names no known backend.
func badStoreURL(u string) string {
	return fmt.Sprintf("doorstep: -store %q: give a postgres:// or esdb:// URL, or leave it empty for the embedded store / 存储地址无效：请使用 “postgres://” 或 “esdb://” 地址，或留空使用内置存储", redactURL(u))
}

// openESDB opens the EventStoreDB store st names, with now as its clock
// (nil: the default). The client library knows esdb:// only; kurrentdb://
// is accepted as its synonym.
func openESDB(ctx context.Context, st storeConfig, now func() time.Time) (*esdb.Store, error) {
	u := st.URL
	if rest, ok := strings.CutPrefix(u, "kurrentdb"); ok {
		u = "esdb" + rest
	}
	return esdb.Open(ctx, esdb.Config{URL: u, Prefix: st.Prefix, Now: now})
}

// needESDBStore fails when the server holds no event of this
// installation's prefix (a command that reads a store should not start on
// an empty one), or cannot be reached.
func needESDBStore(ctx context.Context, st storeConfig) error {
	s, err := openESDB(ctx, st, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	head, err := s.Head(ctx)
	if err != nil {
		return fmt.Errorf("EventStoreDB %s: %w / 无法读取 EventStoreDB", redactURL(st.URL), err)
	}
	if head.IsZero() {
		return fmt.Errorf("no Doorstep events with stream prefix %q on %s (check -store-prefix, or start doorstep serve on it first) / 在 %s 上未找到前缀为 %q 的 Doorstep 事件", s.Prefix(), redactURL(st.URL), redactURL(st.URL), s.Prefix())
	}
	return nil
}

// openESDBRuntime wires a process whose events live on EventStoreDB: the
// read models, checkpoints, tokens, keys and the record of sensitive reads
// live in the data directory (st.ReadModels empty) or in PostgreSQL
// (st.ReadModels a postgres:// URL, where the leader lease elects the node
// that runs the background tasks, as with the events on PostgreSQL).
func openESDBRuntime(ctx context.Context, dir string, st storeConfig, cal *calendar.Calendar, kek *keystore.KEKRing, log *slog.Logger) (*runtime, error) {
	if st.ReadModels != "" && !isPostgresURL(st.ReadModels) {
		return nil, usageError{fmt.Sprintf("doorstep: -readmodels %q: give a postgres:// URL, or leave it empty for files in the data directory / 读模型地址无效", redactURL(st.ReadModels))}
	}
	s, err := openESDB(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	if st.ReadModels == "" {
		return openEmbeddedRuntime(ctx, dir, cal, kek, log, s)
	}
	return openPostgresRuntime(ctx, dir, st.ReadModels, st, cal, kek, log, s)
}
