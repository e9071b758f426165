package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/doorstep/doorstep/internal/loadtest"
)

// runBench is `doorstep bench`: a second process that drives a running
// server over HTTP with a realistic mix at fixed arrival rates (open loop:
// latency counts from the moment a request was due, so a slow server
// cannot hide its queueing), then reports throughput and latency
// percentiles per route. The driver is internal/loadtest; this parses the
// flags and prints.
//
//	reads  (-reads per second):  85% profile reads, 15% alert lists
//	writes (-writes per second): 60% visit records, 40% problem progress notes
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr("DOORSTEP_URL", "http://127.0.0.1:8080"), "server to drive (env DOORSTEP_URL) / 被测服务地址")
	token := fs.String("token", envOr("DOORSTEP_TOKEN", ""), "an admin (or supervisor) token (env DOORSTEP_TOKEN) / 令牌")
	duration := fs.Duration("duration", 10*time.Second, "how long to drive the load / 压测时长")
	warmup := fs.Duration("warmup", 2*time.Second, "load before measuring / 预热时长")
	reads := fs.Float64("reads", 1000, "read requests per second / 每秒读请求数")
	writes := fs.Float64("writes", 300, "command requests per second / 每秒写请求数")
	inflight := fs.Int("max-inflight", 512, "requests in flight at most; more are counted as dropped / 最大并发请求数")
	seed := fs.Uint64("seed", 1, "seed of the request mix / 随机种子")
	adversarial := fs.Bool("adversarial", false, "run the attacks of issue 13 (methods, idempotency, streams, headers), each for -duration, and report the server's RSS (needs -pid) / 运行对抗性压测并报告服务进程内存")
	pid := fs.Int("pid", 0, "the server's process id, for its memory from /proc (with -adversarial) / 服务进程号")
	attacks := fs.String("attacks", strings.Join(loadtest.Attacks(), ","), "which attacks (with -adversarial) / 选择攻击项")
	maxRSS := fs.Int64("max-rss-mb", 300, "fail when the server's RSS goes above this many MB (with -adversarial) / 内存上限（MB）")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	if *token == "" {
		return usageError{"doorstep bench: give -token (or DOORSTEP_TOKEN) / 请提供令牌"}
	}
	if *adversarial {
		if *pid <= 0 {
			return usageError{"doorstep bench -adversarial: give -pid, the server's process id / 请提供服务进程号 -pid"}
		}
		return runAdversarial(ctx, stdout, loadtest.AdversarialConfig{URL: *base, Token: *token, PID: *pid, Duration: *duration,
			Attacks: strings.Split(*attacks, ","), Seed: *seed}, *maxRSS<<20)
	}
	d, err := loadtest.New(ctx, loadtest.Config{URL: *base, Token: *token, Reads: *reads, Writes: *writes, MaxInflight: *inflight, Seed: *seed})
	if err != nil {
		return err
	}
	households, problems, communities := d.Targets()
	fmt.Fprintf(stdout, "bench: %s, %d households, %d open problems, %d communities; %.0f reads/s + %.0f writes/s for %s after %s warm-up\n",
		d.URL(), households, problems, communities, *reads, *writes, *duration, *warmup)
	if *warmup > 0 {
		d.Run(ctx, *warmup)
	}
	res := d.Run(ctx, *duration)
	printBench(stdout, res)
	if n := res.Failed(); n > 0 {
		return fmt.Errorf("bench: %d requests failed / %d 个请求失败", n, n)
	}
	return nil
}

// printBench writes the table of a measured run.
func printBench(w io.Writer, res loadtest.Result) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "\n%-36s %8s %8s %7s %8s %8s %8s %8s\n", "route", "ok", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, r := range res.Routes {
		fmt.Fprintf(w, "%-36s %8d %8d %7.0f %8s %8s %8s %8s\n", r.Name, r.OK(), r.Errors, float64(r.OK())/res.Elapsed.Seconds(),
			ms(r.Percentile(.50)), ms(r.Percentile(.90)), ms(r.Percentile(.99)), ms(r.Percentile(1)))
		if r.Errors > 0 {
			fmt.Fprintf(w, "    status codes: %v\n", r.Codes)
		}
	}
	fmt.Fprintf(w, "dropped (more than -max-inflight in flight): %d; measured over %s\n", res.Dropped, res.Elapsed.Round(time.Millisecond))
}

// runAdversarial runs the attacks and prints the server's memory during
// each; it fails when the peak passes maxRSS bytes.
func runAdversarial(ctx context.Context, w io.Writer, cfg loadtest.AdversarialConfig, maxRSS int64) error {
	fmt.Fprintf(w, "bench -adversarial: %s (pid %d), %s per attack\n", cfg.URL, cfg.PID, cfg.Duration)
	res, err := loadtest.RunAdversarial(ctx, cfg)
	mb := func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "\n%-12s %9s %10s %10s %10s %10s  %s\n", "attack", "seconds", "requests", "RSS MB", "peak MB", "after MB", "answers by status (0: connection refused or reset)")
	over := false
	for _, r := range res {
		fmt.Fprintf(w, "%-12s %9.0f %10d %10s %10s %10s  %v\n", r.Name, r.Duration.Seconds(), r.Requests, mb(r.RSSBefore), mb(r.RSSPeak), mb(r.RSSAfter), r.Codes)
		over = over || r.RSSPeak > maxRSS
	}
	if err != nil {
		return err
	}
	if over {
		return fmt.Errorf("bench: the server's RSS went above %s MB / 服务进程内存超过上限", mb(maxRSS))
	}
	return nil
}
