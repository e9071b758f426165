package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/doorstep/doorstep/cursor"
	"github.com/doorstep/doorstep/eventstore/copylog"
	dhttp "github.com/doorstep/doorstep/http"
	"github.com/doorstep/doorstep/internal/clock"
)

// version is reported by /healthz.
const version = "0.1.0-dev"

// serveFlags are the flags shared by serve and demo.
type serveFlags struct {
	addr, data, logLevel, logFormat string
	store                           *storeConfig
	debugAddr                       string
	maxBody                         int64
	shutdown                        time.Duration
	// the signed heads of the log (decision 0073)
	checkpointKey      string
	checkpointEvery    uint64
	checkpointInterval time.Duration
	positionMap        string
	relay              *relayFlags
}

func addServeFlags(fs *flag.FlagSet, defData string) *serveFlags {
	f := &serveFlags{}
	def := dhttp.DefaultConfig()
	fs.StringVar(&f.addr, "addr", envOr("DOORSTEP_ADDR", def.Addr), "listen address host:port; port 0 picks a free port (env DOORSTEP_ADDR) / 监听地址")
	fs.StringVar(&f.data, "data", envOr("DOORSTEP_DATA", defData), "data directory: events, tokens, keys (env DOORSTEP_DATA) / 数据目录")
	f.store = storeFlags(fs)
	calendarFlag(fs, f.store)
	fs.StringVar(&f.logLevel, "log-level", envOr("DOORSTEP_LOG_LEVEL", "info"), "debug, info, warn or error (env DOORSTEP_LOG_LEVEL) / 日志级别")
	fs.StringVar(&f.logFormat, "log-format", envOr("DOORSTEP_LOG_FORMAT", "json"), "json or text (env DOORSTEP_LOG_FORMAT) / 日志格式")
	fs.StringVar(&f.debugAddr, "debug-addr", envOr("DOORSTEP_DEBUG_ADDR", ""), "if set, serve Go profiling (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060 (env DOORSTEP_DEBUG_ADDR) / 性能分析地址")
	fs.Int64Var(&f.maxBody, "max-body", envInt64("DOORSTEP_MAX_BODY", def.MaxBodyBytes), "largest request body in bytes (env DOORSTEP_MAX_BODY) / 请求体上限（字节）")
	fs.StringVar(&f.positionMap, "position-map", envOr("DOORSTEP_POSITION_MAP", ""), "map of positions written by doorstep migrate: the event stream accepts a position from before the migration (env DOORSTEP_POSITION_MAP) / 迁移位置映射文件")
	f.relay = addRelayFlags(fs)
	fs.DurationVar(&f.shutdown, "shutdown-timeout", envDuration("DOORSTEP_SHUTDOWN_TIMEOUT", def.ShutdownTimeout), "how long to wait for in-flight requests at shutdown (env DOORSTEP_SHUTDOWN_TIMEOUT) / 关闭时等待进行中请求的时长")
	fs.StringVar(&f.checkpointKey, "checkpoint-key", envOr("DOORSTEP_CHECKPOINT_KEY", ""), "Ed25519 private key (PEM, from `doorstep checkpoint keygen`); if set, sign heads of the log while serving (env DOORSTEP_CHECKPOINT_KEY) / 签名私钥；设置后服务时定期签名日志头")
	fs.Uint64Var(&f.checkpointEvery, "checkpoint-every", uint64(envInt64("DOORSTEP_CHECKPOINT_EVERY", 1000)), "with -checkpoint-key, sign a head after this many events (env DOORSTEP_CHECKPOINT_EVERY) / 每多少条事件签名一次")
	fs.DurationVar(&f.checkpointInterval, "checkpoint-interval", envDuration("DOORSTEP_CHECKPOINT_INTERVAL", time.Minute), "with -checkpoint-key, sign a head this often when events came in (env DOORSTEP_CHECKPOINT_INTERVAL) / 有新事件时的签名间隔")
	return f
}

func envInt64(key string, def int64) int64 {
	var v int64
	if _, err := fmt.Sscan(envOr(key, fmt.Sprint(def)), &v); err != nil {
		return def
	}
	return v
}

func envDuration(key string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(envOr(key, def.String()))
	if err != nil {
		return def
	}
	return d
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("doorstep: -log-level %q: use debug, info, warn or error / 日志级别无效", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("doorstep: -log-format %q: use json or text / 日志格式无效", format)}
}

// runServe is `doorstep serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := addServeFlags(fs, "doorstep-data")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.Parsed() && helpAsked(args) {
		return nil
	}
	return serve(ctx, f, stdout, stderr, nil)
}

func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// serve opens the data directory and serves the API until ctx ends. before,
// if not nil, runs after the store is open and before listening (demo uses
// it to generate the town).
func serve(ctx context.Context, f *serveFlags, stdout, stderr io.Writer, before func(context.Context, *runtime) error) error {
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	cfg := dhttp.DefaultConfig()
	cfg.Addr, cfg.MaxBodyBytes, cfg.ShutdownTimeout = f.addr, f.maxBody, f.shutdown
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	relayCfg, err := f.relay.build(f.addr)
	if err != nil {
		return err
	}
	tuneGC(log)
	rt, err := openRuntime(ctx, f.data, *f.store, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	if rt.signer, err = signerFor(rt.store, f.data, f.checkpointKey, f.checkpointEvery, f.checkpointInterval); err != nil {
		return err
	}
	if rt.revealSigner, err = revealSignerFor(rt, f.data, f.checkpointKey, f.checkpointInterval); err != nil {
		return err
	}
	if relayCfg != nil {
		if err := rt.startRelay(ctx, relayCfg, log); err != nil {
			return err
		}
	}
	enc, err := f.relay.encoder(f.addr)
	if err != nil {
		return err
	}
	if err := rt.startWebhooks(ctx, enc, log); err != nil {
		return err
	}
	if before != nil {
		if err := before(ctx, rt); err != nil {
			return err
		}
	}
	tok, created, err := rt.tokens.EnsureAdmin(ctx)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "admin token (shown once; store it now) / 管理员令牌（只显示一次，请立即保存）:\n%s\n", tok)
	}
	deps := rt.deps(log)
	deps.Webhooks = rt.webhooks
	if deps.Consumers, err = cursor.Open(ctx, rt.db, rt.dialect, rt.store, clock.Now); err != nil {
		return err
	}
	if f.positionMap != "" {
		m, err := copylog.ReadMapFile(f.positionMap)
		if err != nil {
			return err
		}
		deps.Positions = m
	}
	srv, err := dhttp.New(cfg, deps)
	if err != nil {
		return err
	}
	if err := srv.Registry().Register(newLagCollector(rt.engine)); err != nil {
		return err
	}
	if err := srv.Registry().Register(newCalendarGauge(rt)); err != nil {
		return err
	}
	if rt.relay != nil {
		if err := srv.Registry().Register(newRelayCollector(rt.relay)); err != nil {
			return err
		}
	}
	if err := srv.Registry().Register(newWebhookCollector(rt.webhooks)); err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if f.debugAddr != "" {
		stopDebug, err := serveDebug(f.debugAddr, log)
		if err != nil {
			l.Close()
			return err
		}
		defer stopDebug()
	}
	// The projections and the deadline watcher run beside the API and stop
	// after it: in-flight requests may still wait for a read model.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	done := rt.runBackground(bg, log)
	fmt.Fprintf(stdout, "listening on http://%s (data %s) / 正在监听\n", l.Addr(), f.data)
	storeName := "embedded"
	switch {
	case isESDBURL(f.store.URL):
		storeName = redactURL(f.store.URL) + " prefix " + f.store.Prefix
	case f.store.URL != "":
		storeName = redactURL(f.store.URL) + " schema " + f.store.Schema
	}
	log.Info("listening", "addr", l.Addr().String(), "data", f.data, "store", storeName, "version", version)
	err = srv.Serve(ctx, l)
	stopBG()
	<-done
	return err
}

// serveDebug serves net/http/pprof on its own listener, never on the API's.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	log.Info("profiling", "addr", l.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// serverGCPercent is the garbage collector's target when GOGC is not set.
// The server's live heap is small (about 75 MB with the 2,155-household
// demo) and requests allocate quickly, so at the default 100 it collects
// every 2–3 s and requests that arrive during the marking wait for CPU: that
// was most of the p99 of profile reads. 400 collects four times less often
// for some hundreds of MB of memory (decision 0055). GOGC and GOMEMLIMIT
// still override it.
const serverGCPercent = 400

// serverMemoryLimit is the soft limit of the Go heap and runtime when
// GOMEMLIMIT is not set (decision 0077). Target 400 lets the heap grow to
// five times the live heap between collections: about 400 MB in ordinary
// use, and over 700 MB while a client sends large bodies or opens many
// streams (BENCHMARKS.md, adversarial clients). With this limit the
// collector runs earlier when the heap nears 200 MiB; below it, target 400
// applies unchanged. It cannot go much lower (decision 0089): under a read
// load the live heap of the 2,155-household demo reaches about 150 MB (the
// deadline watcher's, the scope cache's and the command path's folded
// households), and at 128 MiB the collector ran without pause (a third of
// the CPU) and reads became ten times slower, for 20 MB less RSS. What is
// outside the Go heap (SQLite's page caches) is bounded per connection.
const serverMemoryLimit = 200 << 20

func tuneGC(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serverMemoryLimit)
		log.Debug("soft memory limit set", "bytes", serverMemoryLimit)
	}
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(serverGCPercent)
	log.Debug("garbage collector target set", "gogc", serverGCPercent)
}
