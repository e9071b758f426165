package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/clock"
)

// openEmbedded opens the embedded store in dir, creating dir if needed.
func openEmbedded(ctx context.Context, dir string) (*sqlite.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
}

func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", envOr("DOORSTEP_DATA", "doorstep-data"), "data directory of the embedded store (env DOORSTEP_DATA) / 内置存储的数据目录")
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("doorstep %s: unexpected argument %q / 多余的参数 %q", fs.Name(), fs.Arg(0), fs.Arg(0))}
	}
	return nil
}

// runSelfcheck appends a small household history to a fresh stream, reads
// it back both ways, follows it on a subscription and verifies its chain.
func runSelfcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("selfcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := openEmbedded(ctx, *data)
	if err != nil {
		return err
	}
	defer s.Close()

	stream := "selfcheck-" + eventstore.NewID().String()
	md := eventstore.Metadata{OccurredAt: clock.Now(), Actor: "doorstep-selfcheck", Role: domain.RoleAdmin}
	var evs []eventstore.EventData
	for i, typ := range []string{"selfcheck.started", "selfcheck.visited", "selfcheck.finished"} {
		b, _ := json.Marshal(map[string]any{"step": i + 1, "note": "自检 self-check"})
		evs = append(evs, eventstore.EventData{ID: eventstore.NewID(), Type: typ, Data: b, Metadata: md})
	}
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	sub, err := s.Subscribe(ctx, head, eventstore.Filter{Categories: []string{"selfcheck"}})
	if err != nil {
		return err
	}
	defer sub.Close()
	start := time.Now()
	res, err := s.Append(ctx, stream, eventstore.NoStream(), evs...)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	again, err := s.Append(ctx, stream, eventstore.NoStream(), evs...)
	if err != nil || again != res {
		return fmt.Errorf("retrying the same append was not a no-op: %+v, %v", again, err)
	}
	fwd, err := s.ReadStream(ctx, stream, eventstore.Forward, 1, 10)
	if err != nil {
		return err
	}
	back, err := s.ReadStream(ctx, stream, eventstore.Backward, 0, 10)
	if err != nil {
		return err
	}
	if len(fwd) != 3 || len(back) != 3 || fwd[0].ID != back[2].ID {
		return fmt.Errorf("read back %d forward and %d backward events, want 3 each in opposite order", len(fwd), len(back))
	}
	for i := 0; i < 3; i++ {
		select {
		case e, ok := <-sub.C:
			if !ok {
				return fmt.Errorf("subscription ended after %d of 3 events: %v", i, sub.Err())
			}
			if e.ID != evs[i].ID {
				return fmt.Errorf("subscription delivered %s, want %s", e.ID, evs[i].ID)
			}
		case <-time.After(5 * time.Second):
			return errors.New("subscription did not deliver the new events within 5 s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := eventstore.VerifyStream(ctx, s, stream); err != nil {
		return err
	}
	took := time.Since(start).Round(time.Microsecond)
	fmt.Fprintf(stdout, "self-check passed: %d events appended at positions %s..%s, read back, delivered live and verified in %s (store %s) / 自检通过：%d 条事件已追加（位置 %s..%s），读回、实时推送并校验，用时 %s（存储 %s）\n",
		len(evs), res.FirstPosition, res.LastPosition, took, filepath.Join(*data, "events.db"),
		len(evs), res.FirstPosition, res.LastPosition, took, filepath.Join(*data, "events.db"))
	return nil
}

// runVerify re-computes every hash chain of the store, the global chain
// and every signed head.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs)
	st := storeFlags(fs)
	pub := fs.String("public-key", envOr("DOORSTEP_CHECKPOINT_PUBLIC_KEY", ""), "Ed25519 public key(s) (PEM, comma-separated while a key is rotated) that signed heads must verify with (env DOORSTEP_CHECKPOINT_PUBLIC_KEY) / 校验签名头的公钥")
	heads := fs.String("heads", "", "more signed heads files (comma-separated), e.g. an archived copy; "+headsFileName+" in -data is always read / 其他签名头文件")
	revealHeads := fs.String("reveal-heads", "", "more signed heads files of the record of reveals (comma-separated), e.g. an auditor's copy; "+accesslog.HeadsFileName+" in -data and the heads in the log are always read / 其他查阅记录签名头文件")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	s, err := openStore(ctx, *data, *st)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := verifyLog(ctx, s, *data, *pub, *heads, stdout); err != nil {
		return err
	}
	return verifyReveals(ctx, s, *data, *st, *pub, *revealHeads, stdout)
}

// storeFlags adds -store and -store-schema (shared by every command that
// opens the event store).
func storeFlags(fs *flag.FlagSet) *storeConfig {
	st := &storeConfig{}
	fs.StringVar(&st.URL, "store", envOr("DOORSTEP_STORE", ""), "event store: empty for the embedded store in -data, postgres://user@host:5432/db, or esdb://host:2113 (EventStoreDB/KurrentDB) (env DOORSTEP_STORE) / 事件存储")
	fs.StringVar(&st.Schema, "store-schema", envOr("DOORSTEP_STORE_SCHEMA", "doorstep"), "PostgreSQL schema of the event store, or of the read models with -readmodels (env DOORSTEP_STORE_SCHEMA) / PostgreSQL 模式名")
	fs.StringVar(&st.Prefix, "store-prefix", envOr("DOORSTEP_STORE_PREFIX", esdb.DefaultPrefix), "EventStoreDB stream prefix of this installation (env DOORSTEP_STORE_PREFIX) / EventStoreDB 流前缀")
	fs.StringVar(&st.ReadModels, "readmodels", envOr("DOORSTEP_READMODELS", ""), "with an esdb:// store: empty to keep read models, checkpoints, tokens and keys in -data, or postgres://… to keep them in PostgreSQL (env DOORSTEP_READMODELS) / 读模型位置")
	fs.BoolVar(&st.TakeOver, "store-take-over", false, "with an esdb:// store: let this data directory (or -readmodels schema) serve the prefix another one served, when that one is gone for good / 接管 EventStoreDB 流前缀")
	kekFlags(fs, st)
	return st
}

// openStore opens the event store st names: PostgreSQL, or the embedded
// one in dir, which must exist (a command that reads a store should not
// create an empty one).
func openStore(ctx context.Context, dir string, st storeConfig) (eventstore.Store, error) {
	if err := needStoreAt(ctx, dir, st); err != nil {
		return nil, err
	}
	switch {
	case isESDBURL(st.URL):
		return openESDB(ctx, st, nil)
	case st.URL != "":
		return postgres.Open(ctx, postgres.Config{URL: st.URL, Schema: st.Schema})
	}
	return openEmbedded(ctx, dir)
}

// needStoreAt fails when st names no existing store: the embedded one in
// dir, or the events table in the PostgreSQL schema (a command that reads
// a store should not create an empty one).
func needStoreAt(ctx context.Context, dir string, st storeConfig) error {
	if st.URL == "" {
		return needStore(dir)
	}
	if isESDBURL(st.URL) {
		return needESDBStore(ctx, st)
	}
	if !isPostgresURL(st.URL) {
		return usageError{badStoreURL(st.URL)}
	}
	schema := st.Schema
	if schema == "" {
		schema = "doorstep"
	}
	conn, err := pgx.Connect(ctx, st.URL)
	if err != nil {
		return fmt.Errorf("PostgreSQL %s: %w", redactURL(st.URL), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, "events"}.Sanitize()).Scan(&exists); err != nil {
		return fmt.Errorf("PostgreSQL %s: %w", redactURL(st.URL), err)
	}
	if !exists {
		return fmt.Errorf("no Doorstep store in schema %q of %s (check -store-schema, or start doorstep serve on it first) / 在 %s 的模式 %q 中未找到本系统的存储（请检查 -store-schema，或先在其上启动 “doorstep serve”）", schema, redactURL(st.URL), redactURL(st.URL), schema)
	}
	return nil
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// needStore fails when dir holds no embedded store (a command that reads
// one should not create an empty one).
func needStore(dir string) error {
	path := filepath.Join(dir, "events.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store at %s (give -data or DOORSTEP_DATA) / 在 %s 未找到存储: %w", path, path, err)
	}
	return nil
}

// parseOperand parses the flags of a subcommand that takes one operand (a
// token id, a login) given before or after the flags. It returns the
// operand ("" when none was given), whether help was asked for, and a usage
// error for a second operand or bad flags.
func parseOperand(fs *flag.FlagSet, args []string, cmd string) (operand string, help bool, err error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		operand, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", true, nil
		}
		return "", false, usageError{err.Error()}
	}
	if operand == "" && fs.NArg() > 0 {
		operand = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return "", false, usageError{fmt.Sprintf("doorstep %s: unexpected argument %q / 多余的参数 %q", cmd, fs.Arg(0), fs.Arg(0))}
	}
	return operand, false, nil
}
