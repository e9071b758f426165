package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/keystore"

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
	if err := claimESDB(ctx, s, dir, st); err != nil {
		s.Close()
		return nil, err
	}
	if st.ReadModels == "" {
		return openEmbeddedRuntime(ctx, dir, cal, kek, log, s)
	}
	return openPostgresRuntime(ctx, dir, st.ReadModels, st, cal, kek, log, s)
}

// ownerFile holds the id of a data directory serving an EventStoreDB prefix.
const ownerFile = "esdb-owner"

// claimESDB makes the place holding this process's data keys, tokens and
// record of sensitive reads the owner of the prefix (esdb.Store.Claim):
// a data directory (its id in ownerFile, made on first use), or the
// PostgreSQL schema of -readmodels, which several nodes share. Another
// place is refused unless st.TakeOver.
func claimESDB(ctx context.Context, s *esdb.Store, dir string, st storeConfig) error {
	var me esdb.Owner
	if st.ReadModels != "" {
		u, err := url.Parse(st.ReadModels)
		if err != nil {
			return fmt.Errorf("-readmodels: %w", err)
		}
		schema := st.Schema
		if schema == "" {
			schema = "doorstep"
		}
		me = esdb.Owner{ID: "postgres://" + u.Host + u.Path + "#" + schema, Where: "PostgreSQL " + redactURL(st.ReadModels) + " schema " + schema}
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		p := filepath.Join(dir, ownerFile)
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			b = []byte(uuid.NewString())
			err = os.WriteFile(p, b, 0o600)
		}
		if err != nil {
			return fmt.Errorf("the data directory's EventStoreDB owner id: %w", err)
		}
		host, _ := os.Hostname()
		abs, _ := filepath.Abs(dir)
		me = esdb.Owner{ID: strings.TrimSpace(string(b)), Where: "data directory " + host + ":" + abs}
	}
	err := s.Claim(ctx, me, st.TakeOver)
	var owned *esdb.OwnedError
	if errors.As(err, &owned) {
		return usageError{fmt.Sprintf("doorstep: the EventStoreDB stream prefix %q is served by another %s; this node would use %s. With its events on EventStoreDB, an installation keeps its data keys, tokens and record of sensitive reads in one place: run several nodes with -readmodels postgres://… (one schema; the nodes share those and elect one to run the background tasks), or give each installation its own -store-prefix. If that place is gone for good (the data directory was moved or restored), start once with -store-take-over / 该 EventStoreDB 流前缀已由另一处（%s）使用；多节点请以 -readmodels 指定同一个 PostgreSQL 模式，或为每个实例指定不同的 -store-prefix；如原位置已永久停用，请加 -store-take-over 启动一次",
			s.Prefix(), owned.By.Where, me.Where, owned.By.Where)}
	}
	return err
}
