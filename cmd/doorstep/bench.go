package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/doorstep/doorstep/internal/clock"
)

// runBench is `doorstep bench`: a second process that drives a running
// server over HTTP with a realistic mix at fixed arrival rates (open loop:
// latency counts from the moment a request was due, so a slow server
// cannot hide its queueing), then reports throughput and latency
// percentiles per route.
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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if helpAsked(args) {
		return nil
	}
	if *token == "" {
		return usageError{"doorstep bench: give -token (or DOORSTEP_TOKEN) / 请提供令牌"}
	}
	b := &bencher{base: strings.TrimSuffix(*base, "/"), token: *token, rng: rand.New(rand.NewPCG(*seed, 7)),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}},
		sem:    make(chan struct{}, *inflight), stats: map[string]*routeStats{}}
	if err := b.setup(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: %s, %d households, %d open problems, %d communities; %.0f reads/s + %.0f writes/s for %s after %s warm-up\n",
		b.base, len(b.households), len(b.problems), len(b.communities), *reads, *writes, *duration, *warmup)
	if *warmup > 0 {
		b.run(ctx, *warmup, *reads, *writes)
		b.reset()
	}
	elapsed := b.run(ctx, *duration, *reads, *writes)
	b.report(stdout, elapsed)
	if b.errors() > 0 {
		return fmt.Errorf("bench: %d requests failed / %d 个请求失败", b.errors(), b.errors())
	}
	return nil
}

type bencher struct {
	base, token string
	client      *http.Client
	sem         chan struct{}

	rngMu       sync.Mutex
	rng         *rand.Rand
	households  []benchHousehold
	problems    []string
	communities []string
	n           int

	mu      sync.Mutex
	stats   map[string]*routeStats
	dropped int
}

type benchHousehold struct{ id, community, worker string }

type routeStats struct {
	lat    []time.Duration
	errors int
	codes  map[int]int
}

func (b *bencher) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", b.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Errorf("bench: GET %s: %d %s", path, res.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// setup collects households, communities and open problems to aim at.
func (b *bencher) setup(ctx context.Context) error {
	seen := map[string]bool{}
	for offset := 0; ; offset += 500 {
		var page struct {
			Households []struct {
				HouseholdID  string `json:"household_id"`
				Community    string `json:"community"`
				Worker       string `json:"worker"`
				OpenProblems int    `json:"open_problems"`
			} `json:"households"`
		}
		if err := b.get(ctx, fmt.Sprintf("/v1/households?limit=500&offset=%d", offset), &page); err != nil {
			return err
		}
		for _, h := range page.Households {
			b.households = append(b.households, benchHousehold{h.HouseholdID, h.Community, h.Worker})
			if !seen[h.Community] {
				seen[h.Community] = true
				b.communities = append(b.communities, h.Community)
			}
			if h.OpenProblems > 0 && len(b.problems) < 400 {
				var p struct {
					Problems []struct{ ID, Status string } `json:"problems"`
				}
				if err := b.get(ctx, "/v1/households/"+url.PathEscape(h.HouseholdID), &p); err != nil {
					return err
				}
				for _, pr := range p.Problems {
					if pr.Status == "open" || pr.Status == "in_progress" {
						b.problems = append(b.problems, pr.ID)
					}
				}
			}
		}
		if len(page.Households) < 500 {
			break
		}
	}
	if len(b.households) == 0 {
		return errors.New("bench: the server has no households; run doorstep demo first / 服务器上没有家庭数据，请先运行 doorstep demo")
	}
	return nil
}

// request is one request of the mix.
type request struct {
	route, method, path string
	body                any
}

func (b *bencher) pick(write bool) request {
	b.rngMu.Lock()
	defer b.rngMu.Unlock()
	b.n++
	h := b.households[b.rng.IntN(len(b.households))]
	x := b.rng.Float64()
	if !write {
		if x < 0.85 {
			return request{"GET /v1/households/{id}", "GET", "/v1/households/" + url.PathEscape(h.id), nil}
		}
		c := b.communities[b.rng.IntN(len(b.communities))]
		return request{"GET /v1/alerts", "GET", "/v1/alerts?limit=20&community=" + url.QueryEscape(c), nil}
	}
	if x < 0.6 || len(b.problems) == 0 {
		return request{"POST /v1/households/{id}/visits", "POST", "/v1/households/" + url.PathEscape(h.id) + "/visits", map[string]any{
			"team": []string{orDefault(h.worker, "bench")}, "occurred_at": clock.Now().Add(-time.Hour).Format(time.RFC3339),
			"mode": "home", "outcome": "completed", "summary": fmt.Sprintf("bench visit %d", b.n)}}
	}
	p := b.problems[b.rng.IntN(len(b.problems))]
	return request{"POST /v1/problems/{id}/progress", "POST", "/v1/problems/" + url.PathEscape(p) + "/progress",
		map[string]any{"note": fmt.Sprintf("bench follow-up %d", b.n), "follow_up": "phone"}}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// run drives both streams for d and returns the time it took.
func (b *bencher) run(ctx context.Context, d time.Duration, reads, writes float64) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range []struct {
		rate  float64
		write bool
	}{{reads, false}, {writes, true}} {
		if s.rate <= 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Duration(float64(time.Second) / s.rate)
			next := time.Now()
			for {
				if wait := time.Until(next); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				} else if ctx.Err() != nil {
					return
				}
				due := next
				next = next.Add(interval)
				req := b.pick(s.write)
				select {
				case b.sem <- struct{}{}:
				default:
					b.mu.Lock()
					b.dropped++
					b.mu.Unlock()
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-b.sem }()
					b.do(req, due)
				}()
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func (b *bencher) do(r request, due time.Time) {
	var body io.Reader
	if r.body != nil {
		buf, _ := json.Marshal(r.body)
		body = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(r.method, b.base+r.path, body)
	req.Header.Set("Authorization", "Bearer "+b.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	code := 0
	res, err := b.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		code = res.StatusCode
	}
	lat := time.Since(due)
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats[r.route]
	if st == nil {
		st = &routeStats{codes: map[int]int{}}
		b.stats[r.route] = st
	}
	st.codes[code]++
	if code < 200 || code > 299 {
		st.errors++
		return
	}
	st.lat = append(st.lat, lat)
}

func (b *bencher) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats, b.dropped = map[string]*routeStats{}, 0
}

func (b *bencher) errors() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.dropped
	for _, s := range b.stats {
		n += s.errors
	}
	return n
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func (b *bencher) report(w io.Writer, elapsed time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	routes := make([]string, 0, len(b.stats))
	for r := range b.stats {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	fmt.Fprintf(w, "\n%-36s %8s %8s %7s %8s %8s %8s %8s\n", "route", "ok", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, r := range routes {
		st := b.stats[r]
		slices.Sort(st.lat)
		fmt.Fprintf(w, "%-36s %8d %8d %7.0f %8s %8s %8s %8s\n", r, len(st.lat), st.errors, float64(len(st.lat))/elapsed.Seconds(),
			ms(pct(st.lat, .50)), ms(pct(st.lat, .90)), ms(pct(st.lat, .99)), ms(pct(st.lat, 1)))
		if st.errors > 0 {
			fmt.Fprintf(w, "    status codes: %v\n", st.codes)
		}
	}
	fmt.Fprintf(w, "dropped (more than -max-inflight in flight): %d; measured over %s\n", b.dropped, elapsed.Round(time.Millisecond))
}
