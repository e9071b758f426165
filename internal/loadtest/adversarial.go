package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The adversarial mode of `doorstep bench` (issue 13, "Done when"): it runs
// each attack the hardening issue reproduced against a running server for
// a while and samples the server process's resident memory from /proc, so
// the bound (300 MB) is checked on the real binary, under the real attack.

// Attack names, in the order RunAdversarial runs them.
const (
	AttackMethods     = "methods"     // issue 13 item 1: random and huge HTTP methods, /metrics scraped
	AttackIdempotency = "idempotency" // item 2: fresh Idempotency-Keys with huge unknown field names
	AttackStreams     = "streams"     // item 11: many event streams that never read
	AttackHeaders     = "headers"     // item 12: huge headers and correlation ids
)

// Attacks lists every attack.
func Attacks() []string {
	return []string{AttackMethods, AttackIdempotency, AttackStreams, AttackHeaders}
}

// AdversarialConfig is what to attack, how long and how hard.
type AdversarialConfig struct {
	URL      string        // the server
	Token    string        // an admin token (the streams attack issues tokens with it)
	PID      int           // the server's process id, for its RSS (/proc/PID/status)
	Duration time.Duration // per attack
	Workers  int           // concurrent attackers per attack; default 16
	Streams  int           // event streams the streams attack keeps open; default 400
	Tokens   int           // tokens the streams attack spreads them over; default 60 (enough to reach the server's total cap)
	Attacks  []string      // which; default all
	Seed     uint64
}

// AttackResult is one attack's figures.
type AttackResult struct {
	Name      string
	Duration  time.Duration
	Requests  int64         // requests (or stream openings) sent
	Codes     map[int]int64 // answers by status; 0 counts transport errors (a refused or reset connection)
	RSSBefore int64         // bytes, just before the attack
	RSSPeak   int64         // bytes, the highest sample during the attack
	RSSAfter  int64         // bytes, just after it
}

// RSS reads the resident set size of process pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// RunAdversarial runs the attacks one after another, each for Duration,
// sampling the server's RSS every 100 ms.
func RunAdversarial(ctx context.Context, cfg AdversarialConfig) ([]AttackResult, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Streams <= 0 {
		cfg.Streams = 400
	}
	if cfg.Tokens <= 0 {
		cfg.Tokens = 60
	}
	if len(cfg.Attacks) == 0 {
		cfg.Attacks = Attacks()
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	if _, err := RSS(cfg.PID); err != nil {
		return nil, fmt.Errorf("loadtest: cannot read the server's memory: %w", err)
	}
	var out []AttackResult
	for i, name := range cfg.Attacks {
		a := &attacker{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), codes: map[int]int64{},
			client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers}}}
		var run func(context.Context) error
		switch name {
		case AttackMethods:
			run = a.methods
		case AttackIdempotency:
			run = a.idempotency
		case AttackStreams:
			run = a.streams
		case AttackHeaders:
			run = a.headers
		default:
			return out, fmt.Errorf("loadtest: unknown attack %q; known: %s", name, strings.Join(Attacks(), ", "))
		}
		res, err := a.measure(ctx, name, run)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

type attacker struct {
	cfg    AdversarialConfig
	client *http.Client
	rngMu  sync.Mutex
	rng    *rand.Rand
	sent   atomic.Int64
	mu     sync.Mutex
	codes  map[int]int64
}

func (a *attacker) intn(n int) int {
	a.rngMu.Lock()
	defer a.rngMu.Unlock()
	return a.rng.IntN(n)
}

func (a *attacker) count(code int) {
	a.sent.Add(1)
	a.mu.Lock()
	a.codes[code]++
	a.mu.Unlock()
}

// measure runs attack for the configured duration while sampling RSS.
func (a *attacker) measure(ctx context.Context, name string, attack func(context.Context) error) (AttackResult, error) {
	res := AttackResult{Name: name}
	var err error
	if res.RSSBefore, err = RSS(a.cfg.PID); err != nil {
		return res, err
	}
	res.RSSPeak = res.RSSBefore
	actx, cancel := context.WithTimeout(ctx, a.cfg.Duration)
	defer cancel()
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-actx.Done():
				return
			case <-t.C:
				if v, err := RSS(a.cfg.PID); err == nil && v > res.RSSPeak {
					res.RSSPeak = v
				}
			}
		}
	}()
	start := time.Now()
	err = attack(actx)
	cancel()
	<-sampled
	res.Duration = time.Since(start)
	a.client.CloseIdleConnections()
	res.RSSAfter, _ = RSS(a.cfg.PID)
	res.Requests = a.sent.Load()
	res.Codes = a.codes
	return res, err
}

// workers runs f on cfg.Workers goroutines until ctx ends.
func (a *attacker) workers(ctx context.Context, f func(ctx context.Context)) {
	var wg sync.WaitGroup
	for range a.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				f(ctx)
			}
		}()
	}
	wg.Wait()
}

func (a *attacker) do(req *http.Request) {
	res, err := a.client.Do(req)
	if err != nil {
		a.count(0)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	a.count(res.StatusCode)
}

const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// methods: random method names (a new /metrics series each, before the
// fix) and methods of 20 KB, against /metrics and an unknown route, with
// /metrics scraped by one worker.
func (a *attacker) methods(ctx context.Context) error {
	var scrape atomic.Bool
	a.workers(ctx, func(ctx context.Context) {
		var m string
		if a.intn(10) == 0 {
			m = strings.Repeat("M", 20_000+a.intn(1000))
		} else {
			b := make([]byte, 3+a.intn(10))
			for i := range b {
				b[i] = letters[a.intn(len(letters))]
			}
			m = string(b)
		}
		path := "/metrics"
		if a.intn(2) == 0 {
			path = "/v1/no-such-route"
		}
		if scrape.CompareAndSwap(false, true) {
			defer scrape.Store(false)
			m = "GET"
		}
		req, err := http.NewRequestWithContext(ctx, m, a.cfg.URL+path, nil)
		if err != nil {
			return
		}
		a.do(req)
	})
	return nil
}

// idempotency: a POST per fresh Idempotency-Key whose body is one unknown
// field with a name of 200–900 KB (the answer used to echo it four times
// and be kept 24 h).
func (a *attacker) idempotency(ctx context.Context) error {
	var n atomic.Int64
	a.workers(ctx, func(ctx context.Context) {
		name := strings.Repeat("n", 200_000+a.intn(700_000))
		body := `{"` + name + `":1}`
		req, err := http.NewRequestWithContext(ctx, "POST", a.cfg.URL+"/v1/households/adv-"+strconv.Itoa(a.intn(1000))+"/visits", strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("adv-%d-%d", a.cfg.Seed, n.Add(1)))
		a.do(req)
	})
	return nil
}

// headers: requests with 1–900 KB headers and correlation ids.
func (a *attacker) headers(ctx context.Context) error {
	a.workers(ctx, func(ctx context.Context) {
		size := 1_000 + a.intn(900_000)
		req, err := http.NewRequestWithContext(ctx, "POST", a.cfg.URL+"/v1/households", strings.NewReader(`{}`))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
		req.Header.Set("Content-Type", "application/json")
		if a.intn(2) == 0 {
			req.Header.Set("X-Correlation-Id", strings.Repeat("c", size))
		} else {
			req.Header.Set("X-Padding", strings.Repeat("p", size))
		}
		a.do(req)
	})
	return nil
}

// streams: issues cfg.Tokens integrator tokens, then keeps cfg.Streams
// event streams open from the start of the log over raw connections with
// a 4 KiB receive window that are never read, opening a new one whenever
// the server drops or refuses one.
func (a *attacker) streams(ctx context.Context) error {
	tokens := make([]string, 0, a.cfg.Tokens)
	for i := range a.cfg.Tokens {
		body, _ := json.Marshal(map[string]any{"name": fmt.Sprintf("adversary-%d", i), "role": "integrator", "sensitive": false})
		req, err := http.NewRequestWithContext(ctx, "POST", a.cfg.URL+"/v1/tokens", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
		req.Header.Set("Content-Type", "application/json")
		res, err := a.client.Do(req)
		if err != nil {
			return fmt.Errorf("loadtest: issue a token: %w", err)
		}
		var out struct {
			Token string `json:"token"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || out.Token == "" {
			return fmt.Errorf("loadtest: issue a token: %d %v", res.StatusCode, err)
		}
		tokens = append(tokens, out.Token)
	}
	u, err := url.Parse(a.cfg.URL)
	if err != nil {
		return err
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	var wg sync.WaitGroup
	for i := range a.cfg.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := tokens[i%len(tokens)]
			for ctx.Err() == nil {
				a.stream(ctx, &d, u.Host, tok)
			}
		}()
	}
	wg.Wait()
	return nil
}

// stream opens one stream and holds it without reading past the status
// line until the server closes it or ctx ends.
func (a *attacker) stream(ctx context.Context, d *net.Dialer, host, token string) {
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		a.count(0)
		time.Sleep(100 * time.Millisecond)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	fmt.Fprintf(c, "GET /v1/events?after=0 HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", host, token)
	br := bufio.NewReaderSize(c, 64)
	line, err := br.ReadString('\n')
	code := 0
	if f := strings.Fields(line); err == nil && len(f) >= 2 {
		code, _ = strconv.Atoi(f[1])
	}
	a.count(code)
	if code != 200 {
		// Refused (429/503): back off as Retry-After asks, then retry.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		return
	}
	// Never read again. The server drops a client that does not read
	// (after its stream write timeout, 10 s by default), but a client that
	// does not read cannot tell: hold the connection for StreamHold, then
	// open a new one, as an attacker cycling its streams would.
	select {
	case <-ctx.Done():
	case <-time.After(StreamHold):
	}
}

// StreamHold is how long the streams attack holds each unread stream
// before opening another: longer than the server's default stream write
// timeout, so the server's own drop is what frees its side.
const StreamHold = 15 * time.Second
