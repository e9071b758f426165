// Command doorstep is Doorstep's one binary. Its subcommands (see commands;
// doc_test.go holds this list to that table):
//
//	doorstep serve     [flags]   serve the HTTP API on the embedded store in -data, or on
//	                             PostgreSQL with -store postgres://…; runs the projections and
//	                             the deadline watcher (on PostgreSQL, on the one node holding
//	                             the advisory lock)
//	doorstep demo      [flags]   as serve, after generating the synthetic town (-seed,
//	                             -households; 2,155 households by default) and the
//	                             quick-start household demo-zhang on first start
//	doorstep replay    -household ID | -problem ID [-at DATE|INSTANT]
//	                             print a household or problem as of an instant, as a timeline
//	doorstep rebuild   [-projection NAMES] [-batch N]
//	                             rebuild the read models from the log, with a progress bar
//	doorstep export    [-household ID | -problem ID] [-format jsonl|csv] [-o FILE]
//	                             export an audit trail, or the whole log as JSON Lines
//	doorstep bench     -url URL -token TOKEN [-duration D] [-reads N] [-writes N]
//	                             drive a running server with a realistic load, report latencies
//	doorstep calendar  import FILE | show [YEAR]
//	                             publish a year's official holiday notice into the log, or show
//	                             the calendar in force and the provisional deadlines
//	doorstep relay     status [-data DIR] [-store URL]
//	                             each broker relay target's checkpoint and lag
//	doorstep webhook   list | create -url URL | delete -id ID | parked -id ID | replay -id ID -event E
//	                             manage webhook subscriptions (as /v1/webhooks does)
//	doorstep verify    [-data DIR] [-store URL] [-public-key FILE] [-heads FILE] [-reveal-heads FILE]
//	                             re-compute every hash chain, the global chain and check
//	                             every signed head, of the log and of the record of
//	                             reveals; report the first break
//	doorstep checkpoint keygen -o FILE | sign -key FILE
//	                             create the Ed25519 key that signs heads of the log, or
//	                             sign the heads of the log and of the record of reveals
//	                             now (decisions 0073, 0111)
//	doorstep retention -preview [-until INSTANT] -url URL -token TOKEN
//	                             the closed files whose retention ended, which the
//	                             server erases (decision 0113)
//	doorstep erase     request -household ID [-member ID] -basis B -reference R | approve -household ID -id REQ | list -household ID
//	                             erase a household's or a member's personal data through a
//	                             running server: a request, and a second person's approval
//	                             (decision 0100)
//	doorstep token     list | revoke ID | expire ID -at INSTANT|never
//	                             list the access tokens, revoke one, or set when it expires,
//	                             on the store itself (a running server notices at once)
//	doorstep user      add LOGIN -name NAME -role ROLE … | list | disable LOGIN | enable LOGIN
//	                             the people who sign in to the console (password on stdin)
//	doorstep keys      new-kek -o FILE | rotate-kek -kek-file NEW -kek-old-file OLD
//	                             make a key-encrypting key, or rewrap every data key under a new one
//	doorstep migrate   -from STORE -to STORE [-position-map FILE]
//	                             copy the whole log between backends, resumable, verified
//	doorstep selfcheck [-data DIR]
//	                             append, read back and verify a few events (embedded store)
//
// The commands that open a store take -data DIR (the embedded store and its
// read models, tokens and keys) and -store URL with -store-schema (PostgreSQL)
// or -store-prefix and -readmodels (EventStoreDB, esdb://…);
// those that compute deadlines also take -calendar FILE (years added at start,
// on this node only; publishing with `calendar import` is preferred).
// serve and demo also take -addr, -log-level, -log-format, -debug-addr,
// -max-body and -shutdown-timeout, and -relay URLS (with -relay-source and
// -relay-schema-base) to publish every event to NATS JetStream or RabbitMQ. `doorstep <command> -h` lists a command's
// flags.
//
// Configuration comes from flags, or DOORSTEP_* environment variables
// (DOORSTEP_DATA for -data, DOORSTEP_STORE for -store, …; each flag's help
// names its variable). Only this package reads them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "doorstep:", err)
		os.Exit(1)
	}
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// command is one subcommand.
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []subcommand {
	return []subcommand{
		{"selfcheck", "append, read back and verify a few events in the store / 写入、读回并校验若干事件", runSelfcheck},
		{"serve", "serve the HTTP API on the embedded store / 在内置存储上提供 HTTP API", runServe},
		{"demo", "generate the 2,155-household synthetic town and serve it / 生成 2155 户合成城镇并提供服务", runDemo},
		{"replay", "print a household or problem as of a date, as a timeline / 按时间线回放某日的家庭或问题", runReplay},
		{"rebuild", "rebuild the read models from the log, with a progress bar / 从事件日志重建读模型", runRebuild},
		{"export", "export an audit trail or the whole log (JSON Lines or CSV) / 导出审计轨迹或完整日志", runExport},
		{"bench", "drive a running server with a realistic load and report latencies / 对运行中的服务进行压测", runBench},
		{"calendar", "publish a year's official holiday notice (import FILE) or show the calendar in force (show [YEAR]) / 发布节假日通知或查看当前日历", runCalendar},
		{"relay", "show how far each broker relay target has published the log (status) / 查看消息中继的发布进度", runRelayCmd},
		{"webhook", "manage webhook subscriptions: list, create, delete, parked, replay / 管理回调订阅", runWebhookCmd},
		{"verify", "re-compute every hash chain and check the signed heads; report the first break / 重新计算哈希链并校验签名头", runVerify},
		{"checkpoint", "create the signing key (keygen -o FILE) or sign the log's head now (sign -key FILE) / 生成签名密钥或立即签名日志头", runCheckpoint},
		{"keys", "make a key-encrypting key (new-kek) or rewrap every data key under a new one (rotate-kek) / 生成或轮换数据密钥的加密密钥", runKeys},
		{"erase", "erase a household's or a member's personal data through a server: request, approve (a second person) or list / 删除家庭或成员的个人信息：申请、批准（须另一人）或查看", runErase},
		{"retention", "preview the closed files whose retention has ended, which the server erases (-preview [-until]) / 预览保存期满将删除的已归档档案", runRetention},
		{"token", "list the access tokens, revoke one, or set when one expires / 列出、吊销令牌或设置其过期时间", runToken},
		{"user", "add a person who signs in to the console, list the users, disable or enable one / 添加、列出、停用或启用控制台用户", runUser},
		{"migrate", "copy the whole log to another store (embedded, PostgreSQL, EventStoreDB), resumable and verified / 将完整日志迁移到另一存储", runMigrate},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return usageError{"doorstep: no command given; see the list above / 未指定命令，请参见上面的列表"}
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return usageError{fmt.Sprintf("doorstep: unknown command %q / 未知命令 %q", args[0], args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: doorstep <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'doorstep <command> -h' for the flags of a command.")
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
