package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/copylog"
	"github.com/doorstep/doorstep/eventstore/esdb"
	"github.com/doorstep/doorstep/eventstore/postgres"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/sidestores"
)

// runMigrate is `doorstep migrate -from STORE -to STORE`: the whole log
// copied between any two backends (package copylog), resumable, verified,
// with a map of old positions to new ones for the event stream.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "source store: a data directory (embedded store), postgres://… or esdb://… / 源存储")
	to := fs.String("to", "", "target store, empty or holding an interrupted migration of the same source: a data directory, postgres://… or esdb://… / 目标存储")
	fromSchema := fs.String("from-schema", "doorstep", "PostgreSQL schema of the source / 源 PostgreSQL 模式")
	toSchema := fs.String("to-schema", "doorstep", "PostgreSQL schema of the target / 目标 PostgreSQL 模式")
	fromPrefix := fs.String("from-prefix", esdb.DefaultPrefix, "EventStoreDB stream prefix of the source / 源流前缀")
	toPrefix := fs.String("to-prefix", esdb.DefaultPrefix, "EventStoreDB stream prefix of the target / 目标流前缀")
	mapPath := fs.String("position-map", "position-map.txt", "file to write the map of old positions to new ones; give it to doorstep serve -position-map / 位置映射文件")
	fromEnd := migrateEnd{name: "source", flag: "from"}
	toEnd := migrateEnd{name: "target", flag: "to"}
	fs.StringVar(&fromEnd.data, "from-data", "", "source on EventStoreDB: the data directory holding its data keys, tokens and record of sensitive reads / 源数据目录")
	fs.StringVar(&toEnd.data, "to-data", "", "target on EventStoreDB: the data directory to hold its data keys, tokens and record of sensitive reads / 目标数据目录")
	fs.StringVar(&fromEnd.readModels, "from-readmodels", "", "source on EventStoreDB: its -readmodels postgres://… (schema -from-schema) / 源读模型地址")
	fs.StringVar(&toEnd.readModels, "to-readmodels", "", "target on EventStoreDB: its -readmodels postgres://… (schema -to-schema) / 目标读模型地址")
	fs.StringVar(&fromEnd.kekFile, "from-kek-file", "", "the source's key-encrypting key (default: <dir>/kek of a data directory) / 源密钥加密密钥文件")
	fs.StringVar(&toEnd.kekFile, "to-kek-file", "", "the target's key-encrypting key, required on PostgreSQL (default: <dir>/kek of a data directory, generated) / 目标密钥加密密钥文件")
	logOnly := fs.Bool("log-only", false, "move the events alone, not the data keys, tokens and record of sensitive reads / 仅迁移事件")
	err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	if *from == "" || *to == "" {
		return usageError{"doorstep migrate: give -from STORE and -to STORE (a data directory, postgres://… or esdb://…) / 请指定 -from 和 -to"}
	}
	if *from == *to && *fromSchema == *toSchema && *fromPrefix == *toPrefix {
		return usageError{"doorstep migrate: -from and -to name the same store / 源与目标相同"}
	}
	fromEnd.store, fromEnd.schema, toEnd.store, toEnd.schema = *from, *fromSchema, *to, *toSchema
	var srcSide, dstSide sidestores.Side
	newKEK := ""
	if !*logOnly {
		// Opened first: a missing key-encrypting key or companion place
		// is refused before anything is written.
		var closeSrc, closeDst func()
		if srcSide, _, closeSrc, err = openCompanions(ctx, fromEnd); err != nil {
			return endError("source", err)
		}
		defer closeSrc()
		if dstSide, newKEK, closeDst, err = openCompanions(ctx, toEnd); err != nil {
			return endError("target", err)
		}
		defer closeDst()
	}
	src, err := openMigrateEnd(ctx, *from, *fromSchema, *fromPrefix, nil, true)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	clk := &copylog.Clock{}
	dst, err := openMigrateEnd(ctx, *to, *toSchema, *toPrefix, clk.Now, false)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()
	if es, ok := dst.(*esdb.Store); ok && !*logOnly {
		// The place given for the target's keys and tokens serves its
		// prefix from now on: a serve with another data directory is
		// refused instead of sealing with keys of its own.
		if err := claimESDB(ctx, es, toEnd.data, storeConfig{ReadModels: toEnd.readModels, Schema: *toSchema}); err != nil {
			return endError("target", err)
		}
	}
	total, err := copylog.Count(ctx, src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	bar := progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("migrate / 迁移"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetWidth(30))
	phase := ""
	start := time.Now()
	res, err := copylog.Copy(ctx, src, dst, clk, copylog.Options{Total: total, Progress: func(p string, n int) {
		if p != phase {
			phase = p
			bar.Describe(map[string]string{"resume": "check target / 检查目标", "copy": "migrate / 迁移", "verify": "verify / 校验"}[p])
		}
		_ = bar.Set(n)
	}})
	_ = bar.Finish()
	fmt.Fprintln(stderr)
	if err != nil {
		if errors.Is(err, copylog.ErrTargetNotEmpty) {
			return usageError{"doorstep migrate: " + err.Error()}
		}
		return fmt.Errorf("migrate: %w (run the same command again to resume) / 迁移中断，重新运行同一命令即可继续", err)
	}
	took := time.Since(start)
	var cres sidestores.Result
	if !*logOnly {
		if cres, err = sidestores.Copy(ctx, dst, srcSide, dstSide, nil); err != nil {
			if errors.Is(err, sidestores.ErrConflict) {
				return usageError{"doorstep migrate: " + err.Error()}
			}
			return fmt.Errorf("migrate the data keys, tokens and record of sensitive reads: %w (run the same command again to resume) / 迁移中断，重新运行同一命令即可继续", err)
		}
	}
	if err := res.Map.WriteFile(*mapPath); err != nil {
		return fmt.Errorf("write the position map: %w", err)
	}
	copied := res.Events - res.Resumed
	fmt.Fprintf(stdout, "migrated: %d events (%d already there, %d copied in %d appends and %d batched imports) in %s (%.0f events/s); every event matches the source and every hash chain verifies\n迁移完成：共 %d 条事件（%d 条已存在，%d 条以 %d 次追加和 %d 次批量导入复制），用时 %s（每秒 %.0f 条）；全部事件与源一致，哈希链校验通过\n",
		res.Events, res.Resumed, copied, res.Appends, res.Imports, took.Round(time.Millisecond), float64(copied)/took.Seconds(),
		res.Events, res.Resumed, copied, res.Appends, res.Imports, took.Round(time.Millisecond), float64(copied)/took.Seconds())
	if *logOnly {
		fmt.Fprintln(stdout, "events only (-log-only): the data keys, tokens and record of sensitive reads were not moved; sealed fields open on the target only if it shares the source's key store / 仅迁移了事件：数据密钥、令牌和敏感信息查阅记录未迁移")
	} else {
		fmt.Fprintf(stdout, "moved beside the log: %d data keys (%d erased, %d copied now), %d tokens (%d copied now), %d records of sensitive reads (%d copied now)\n日志之外同时迁移：数据密钥 %d 个（已销毁 %d 个，本次复制 %d 个），令牌 %d 个（本次复制 %d 个），敏感信息查阅记录 %d 条（本次复制 %d 条）\n",
			cres.Keys, cres.KeysErased, cres.KeysCopied, cres.Tokens, cres.TokensCopied, cres.SensitiveReads, cres.SensitiveCopied,
			cres.Keys, cres.KeysErased, cres.KeysCopied, cres.Tokens, cres.TokensCopied, cres.SensitiveReads, cres.SensitiveCopied)
		if newKEK != "" {
			fmt.Fprintf(stdout, "the target's data keys are wrapped under a new key-encrypting key, %s: move it off this disk and pass -kek-file / 已为目标生成新的密钥加密密钥 %s\n", newKEK, newKEK)
		}
	}
	fmt.Fprintf(stdout, "position map: %s (%d positions); start doorstep serve on the target with -position-map %s and a fresh data directory or read-model schema (the read models rebuild from the new log)\n位置映射：%s（%d 个位置）；请在目标存储上以 “-position-map %s” 和新的数据目录或读模型模式启动服务（读模型将从新日志重建）\n",
		*mapPath, res.Map.Len(), *mapPath, *mapPath, res.Map.Len(), *mapPath)
	return nil
}

// openMigrateEnd opens one end of a migration: the embedded store in a data
// directory (which must exist for the source), PostgreSQL or EventStoreDB,
// with now as its clock (nil: the default).
func openMigrateEnd(ctx context.Context, spec, schema, prefix string, now func() time.Time, source bool) (eventstore.Store, error) {
	switch {
	case isPostgresURL(spec):
		return postgres.Open(ctx, postgres.Config{URL: spec, Schema: schema, Now: now})
	case isESDBURL(spec):
		return openESDB(ctx, storeConfig{URL: spec, Prefix: prefix}, now)
	}
	if source {
		if err := needStore(spec); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(spec, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", spec, err)
	}
	return sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(spec, "events.db"), Now: now})
}

// endError names the end an error came from; a usage error, which names it
// already, stays one.
func endError(end string, err error) error {
	var ue usageError
	if errors.As(err, &ue) {
		return ue
	}
	return fmt.Errorf("%s: %w", end, err)
}
