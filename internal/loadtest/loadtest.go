// Package loadtest drives a running Doorstep server over HTTP with a
// realistic mix of requests at fixed arrival rates and measures the
// latency of each route. It is the engine of `doorstep bench`, which
// parses the flags and prints the Result.
//
// The load is open loop: a request's latency counts from the moment it was
// due, not from when it was sent, so a slow server cannot hide its
// queueing. The mix is
//
//	reads  (Config.Reads per second):  85% profile reads, 15% alert lists
//	writes (Config.Writes per second): 60% visit records, 40% problem progress notes
//
// aimed at the households, communities and open problems the server lists
// when the Driver is made.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// Config is what to drive and how hard.
type Config struct {
	URL         string  // the server, e.g. http://127.0.0.1:8080 (a trailing slash is dropped)
	Token       string  // an admin (or supervisor) token
	Reads       float64 // read requests per second; 0 sends none
	Writes      float64 // command requests per second; 0 sends none
	MaxInflight int     // requests in flight at most; more are counted as dropped
	Seed        uint64  // seed of the request mix
}

// Driver sends the load to one server. Make it with New; Run it once or
// more (e.g. a warm-up, then the measured run).
type Driver struct {
	base, token string
	client      *http.Client
	sem         chan struct{}
	reads       float64
	writes      float64

	rngMu       sync.Mutex
	rng         *rand.Rand
	households  []household
	problems    []string
	communities []string
	n           int

	me string // the token's name: the recorder of the visits

	mu      sync.Mutex
	stats   map[string]*routeStats
	dropped int
}

type household struct{ id, community, worker string }

// visitBody is a completed home visit recorded by me (the token's name,
// on the team as required, decision 0120) with the evidence the shipped
// policy asks of any household class: a doctor and a volunteer, the
// purpose, the five understandings, the next contact and a check-in.
func visitBody(me string, n int) map[string]any {
	at := clock.Now().Add(-time.Hour)
	return map[string]any{
		"members":     []map[string]string{{"person": me, "role": "grid_worker"}, {"person": "医生王", "role": "doctor"}, {"person": "志愿者小陈", "role": "volunteer"}},
		"occurred_at": at.Format(time.RFC3339), "mode": "home", "outcome": "completed", "summary": fmt.Sprintf("bench visit %d", n),
		"purpose": "routine", "covered": []string{"health", "economic", "support_obligations", "home_safety", "service_needs"},
		"next_contact": map[string]string{"person": me, "at": at.Add(7 * 24 * time.Hour).Format(time.RFC3339)},
		"check_in":     map[string]string{"at": at.Format(time.RFC3339), "ref": "bench-checkin"}}
}

type routeStats struct {
	lat    []time.Duration
	errors int
	codes  map[int]int
}

// New reads the households, communities and open problems of the server
// to aim at. It fails when the server cannot be read or has no households.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	d := &Driver{base: strings.TrimSuffix(cfg.URL, "/"), token: cfg.Token, rng: rand.New(rand.NewPCG(cfg.Seed, 7)),
		reads: cfg.Reads, writes: cfg.Writes,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}},
		sem:    make(chan struct{}, cfg.MaxInflight), stats: map[string]*routeStats{}}
	if err := d.setup(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// URL is the server driven, without a trailing slash.
func (d *Driver) URL() string { return d.base }

// Targets counts what the load is aimed at.
func (d *Driver) Targets() (households, openProblems, communities int) {
	return len(d.households), len(d.problems), len(d.communities)
}

func (d *Driver) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", d.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	res, err := d.client.Do(req)
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
func (d *Driver) setup(ctx context.Context) error {
	var me struct {
		Name string `json:"name"`
	}
	if err := d.get(ctx, "/v1/whoami", &me); err == nil {
		d.me = me.Name // a server without whoami gets the visit of before
	}
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
		if err := d.get(ctx, fmt.Sprintf("/v1/households?limit=500&offset=%d", offset), &page); err != nil {
			return err
		}
		for _, h := range page.Households {
			d.households = append(d.households, household{h.HouseholdID, h.Community, h.Worker})
			if !seen[h.Community] {
				seen[h.Community] = true
				d.communities = append(d.communities, h.Community)
			}
			if h.OpenProblems > 0 && len(d.problems) < 400 {
				var p struct {
					Problems []struct{ ID, Status string } `json:"problems"`
				}
				if err := d.get(ctx, "/v1/households/"+url.PathEscape(h.HouseholdID), &p); err != nil {
					return err
				}
				for _, pr := range p.Problems {
					if pr.Status == "open" || pr.Status == "in_progress" {
						d.problems = append(d.problems, pr.ID)
					}
				}
			}
		}
		if len(page.Households) < 500 {
			break
		}
	}
	if len(d.households) == 0 {
		return errors.New("bench: the server has no households; run doorstep demo first / 服务器上没有家庭数据，请先运行 “doorstep demo”")
	}
	return nil
}

// request is one request of the mix.
type request struct {
	route, method, path string
	body                any
}

func (d *Driver) pick(write bool) request {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	d.n++
	h := d.households[d.rng.IntN(len(d.households))]
	x := d.rng.Float64()
	if !write {
		if x < 0.85 {
			return request{"GET /v1/households/{id}", "GET", "/v1/households/" + url.PathEscape(h.id), nil}
		}
		c := d.communities[d.rng.IntN(len(d.communities))]
		return request{"GET /v1/alerts", "GET", "/v1/alerts?limit=20&community=" + url.QueryEscape(c), nil}
	}
	if x < 0.6 || len(d.problems) == 0 {
		body := map[string]any{"team": []string{orDefault(h.worker, "bench")}, "occurred_at": clock.Now().Add(-time.Hour).Format(time.RFC3339),
			"mode": "home", "outcome": "completed", "summary": fmt.Sprintf("bench visit %d", d.n)}
		if d.me != "" {
			body = visitBody(d.me, d.n)
		}
		return request{"POST /v1/households/{id}/visits", "POST", "/v1/households/" + url.PathEscape(h.id) + "/visits", body}
	}
	p := d.problems[d.rng.IntN(len(d.problems))]
	return request{"POST /v1/problems/{id}/progress", "POST", "/v1/problems/" + url.PathEscape(p) + "/progress",
		map[string]any{"note": fmt.Sprintf("bench follow-up %d", d.n), "follow_up": "phone"}}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Run drives both streams for dur (or until ctx ends) and returns what was
// measured in this run only: the counts of an earlier run (a warm-up) are
// not in it. The request mix continues where the earlier run stopped.
func (d *Driver) Run(ctx context.Context, dur time.Duration) Result {
	d.reset()
	// start is read before the deadline is set, so the run's Elapsed is
	// never shorter than dur when the deadline ends it.
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(dur))
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range []struct {
		rate  float64
		write bool
	}{{d.reads, false}, {d.writes, true}} {
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
				req := d.pick(s.write)
				select {
				case d.sem <- struct{}{}:
				default:
					d.mu.Lock()
					d.dropped++
					d.mu.Unlock()
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-d.sem }()
					d.do(req, due)
				}()
			}
		}()
	}
	wg.Wait()
	return d.result(time.Since(start))
}

func (d *Driver) do(r request, due time.Time) {
	var body io.Reader
	if r.body != nil {
		buf, _ := json.Marshal(r.body)
		body = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(r.method, d.base+r.path, body)
	req.Header.Set("Authorization", "Bearer "+d.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	code := 0
	res, err := d.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		code = res.StatusCode
	}
	lat := time.Since(due)
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stats[r.route]
	if st == nil {
		st = &routeStats{codes: map[int]int{}}
		d.stats[r.route] = st
	}
	st.codes[code]++
	if code < 200 || code > 299 {
		st.errors++
		return
	}
	st.lat = append(st.lat, lat)
}

func (d *Driver) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats, d.dropped = map[string]*routeStats{}, 0
}

// result collects the counts of the run that took elapsed.
func (d *Driver) result(elapsed time.Duration) Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := Result{Routes: make([]Route, 0, len(d.stats)), Dropped: d.dropped, Elapsed: elapsed}
	for name, st := range d.stats {
		lat := slices.Clone(st.lat)
		slices.Sort(lat)
		out.Routes = append(out.Routes, Route{Name: name, Latencies: lat, Errors: st.errors, Codes: st.codes})
	}
	sort.Slice(out.Routes, func(i, j int) bool { return out.Routes[i].Name < out.Routes[j].Name })
	return out
}

// Result is what one Run measured.
type Result struct {
	Routes  []Route       // by name
	Dropped int           // requests not sent because MaxInflight were in flight
	Elapsed time.Duration // how long the run took
}

// Failed counts the requests that failed or were dropped.
func (r Result) Failed() int {
	n := r.Dropped
	for _, rt := range r.Routes {
		n += rt.Errors
	}
	return n
}

// Route is what one route of the mix measured.
type Route struct {
	Name      string          // e.g. "GET /v1/households/{id}"
	Latencies []time.Duration // of the requests answered 2xx, shortest first
	Errors    int             // requests not answered 2xx (including transport failures)
	Codes     map[int]int     // requests by status code; 0 for a transport failure
}

// OK counts the requests answered 2xx.
func (r Route) OK() int { return len(r.Latencies) }

// Percentile is the latency below which the fraction p (0 to 1) of the
// route's successful requests fall, by the nearest rank; 1 gives the
// slowest. Zero when none succeeded.
func (r Route) Percentile(p float64) time.Duration {
	sorted := r.Latencies
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
