// Command consoleload measures what the console's users make the server do:
// -users simulated people (sessions signed in once), each loading the
// supervisor dashboard or a household file as the browser does (the API
// calls of the screen, asked at once), for -duration. It prints the latency
// of each screen's requests (p50, p95, p99, measured at the client on
// loopback: an upper bound of the server's time), the time of whole screens,
// the bytes of a first load and the machine's load average.
//
// Two load models (decision 0151):
//
//   - people (-think 5s): after each screen a user reads it for a think time
//     drawn uniformly from think × [1−jitter, 1+jitter] with a seeded random
//     (-seed), and the users start spread over one think time, so fifty users
//     are fifty people at their desks, as "concurrent users" means in k6 or
//     JMeter test plans;
//   - saturation (-think 0, the default, as the earlier figures were taken):
//     each user loads the next screen as soon as the last one is done, which
//     measures the most the server can do, not people.
//
// With -server-log, the server's request log (text or JSON, as doorstep
// writes it) is read after the run and the server time (duration_ms) of each
// screen's API routes within the run's window is printed too.
//
//	go run ./scripts/consoleload -url http://127.0.0.1:8080 -login sup -password-file FILE -users 50 -duration 120s -think 5s -server-log LOG
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the server")
	login := flag.String("login", "", "a supervisor's login")
	pwFile := flag.String("password-file", "", "a file whose first line is the password")
	users := flag.Int("users", 50, "concurrent users")
	dur := flag.Duration("duration", 30*time.Second, "how long")
	think := flag.Duration("think", 0, "mean time a user reads a screen before the next one; 0: no pause (saturation)")
	jitter := flag.Float64("jitter", 0.5, "think times are drawn uniformly from think × [1−jitter, 1+jitter]")
	seed := flag.Uint64("seed", 1, "seed of the think times and the users' start offsets")
	serverLog := flag.String("server-log", "", "the server's request log, read after the run for the server time of each screen's routes")
	flag.Parse()
	if *jitter < 0 || *jitter > 1 {
		log.Fatal("-jitter must be within [0, 1]")
	}
	pwb, err := os.ReadFile(*pwFile)
	if err != nil {
		log.Fatal(err)
	}
	pw := strings.TrimRight(string(pwb), "\r\n")

	// Household ids of the supervisor's communities, for the file screen.
	probe, communities := client(*base, *login, pw)
	// A supervisor of several communities names one, as the console does.
	scope := ""
	if len(communities) > 1 {
		scope = "&community=" + url.QueryEscape(communities[0])
	}
	var list struct {
		Households []struct {
			ID string `json:"household_id"`
		} `json:"households"`
	}
	getJSON(probe, *base+"/v1/households?limit=100"+scope, &list)
	if len(list.Households) == 0 {
		log.Fatal("the supervisor sees no household")
	}

	// The first load of the dashboard, as a browser with an empty cache makes it.
	first := 0
	for _, p := range []string{"/", "/console/app.js", "/console/i18n.js", "/console/style.css"} {
		first += get(probe, *base+p)
	}
	// The requests of each screen, as app.js makes them (dashboard(),
	// householdFile() and history()).
	dash := []string{"/v1/whoami", "/v1/alerts/counts", "/v1/alerts?stage=breached&limit=100" + scope, "/v1/alerts?stage=approaching&limit=100" + scope,
		"/v1/measures?" + strings.TrimPrefix(scope, "&"), "/v1/measures/flags", "/v1/rectifications?status=open&limit=100" + scope}
	file := func(id string) []string {
		return []string{"/v1/households/" + id, "/v1/households/" + id + "/audit", "/v1/households/" + id + "/chain"}
	}

	// Everyone signs in first (Argon2id, at most two at once on the server),
	// then the clock starts.
	clients := make([]*http.Client, *users)
	t0 := time.Now()
	var sg sync.WaitGroup
	for u := range clients {
		sg.Add(1)
		go func() { defer sg.Done(); clients[u], _ = client(*base, *login, pw) }()
	}
	sg.Wait()
	signIn := time.Since(t0)
	var mu sync.Mutex
	lat := map[string][]time.Duration{}     // each request, by screen
	screens := map[string][]time.Duration{} // each whole screen
	load0 := loadavg()
	start := time.Now()
	stop := start.Add(*dur)
	var wg sync.WaitGroup
	for u := range *users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[u]
			rng := rand.New(rand.NewPCG(*seed, uint64(u)))
			pause := func(d time.Duration) {
				if d > time.Until(stop) {
					d = time.Until(stop)
				}
				if d > 0 {
					time.Sleep(d)
				}
			}
			if *think > 0 {
				// People do not all open their first screen in the same
				// instant: start spread over one think time.
				pause(time.Duration(rng.Float64() * float64(*think)))
			}
			for i := 0; time.Now().Before(stop); i++ {
				screen, paths := "dashboard", dash
				if i%2 == 1 {
					screen, paths = "household file", file(list.Households[(u*7+i)%len(list.Households)].ID)
				}
				// The browser asks a screen's API calls at once.
				var sw sync.WaitGroup
				s0 := time.Now()
				for _, p := range paths {
					sw.Add(1)
					go func() {
						defer sw.Done()
						t0 := time.Now()
						get(c, *base+p)
						d := time.Since(t0)
						mu.Lock()
						lat[screen] = append(lat[screen], d)
						mu.Unlock()
					}()
				}
				sw.Wait()
				mu.Lock()
				screens[screen] = append(screens[screen], time.Since(s0))
				mu.Unlock()
				if *think > 0 {
					f := 1 + *jitter*(2*rng.Float64()-1)
					pause(time.Duration(f * float64(*think)))
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	load1 := loadavg()
	fmt.Printf("first load of the dashboard page: %d bytes transferred (gzip)\n", first)
	fmt.Printf("%d sign-ins at once: %s until the last one was done\n", *users, signIn.Round(time.Millisecond))
	model := "no think time (saturation)"
	if *think > 0 {
		model = fmt.Sprintf("think time %s ± %.0f%% (seed %d)", *think, *jitter*100, *seed)
	}
	fmt.Printf("run %s – %s UTC: %d users, %s; load average %s at the start, %s at the end\n",
		start.UTC().Format("15:04:05"), end.UTC().Format("15:04:05"), *users, model, load0, load1)
	for _, s := range []string{"dashboard", "household file"} {
		d := lat[s]
		if len(d) == 0 {
			continue
		}
		fmt.Printf("%s: %d requests by %d users in %s; client p50 %s, p95 %s, p99 %s; %d screens, whole screen p95 %s\n",
			s, len(d), *users, *dur, pct(d, 0.5), pct(d, 0.95), pct(d, 0.99), len(screens[s]), pct(screens[s], 0.95))
	}
	if *serverLog != "" {
		routes := map[string]string{}
		for _, r := range []string{"/v1/whoami", "/v1/alerts/counts", "/v1/alerts", "/v1/measures", "/v1/measures/flags", "/v1/rectifications"} {
			routes[r] = "dashboard"
		}
		for _, r := range []string{"/v1/households/{id}", "/v1/households/{id}/audit", "/v1/households/{id}/chain"} {
			routes[r] = "household file"
		}
		byScreen, byRoute, err := serverTimes(*serverLog, start, end, routes)
		if err != nil {
			log.Fatal(err)
		}
		for _, s := range []string{"dashboard", "household file"} {
			d := byScreen[s]
			if len(d) == 0 {
				continue
			}
			fmt.Printf("%s: server time of %d requests (request log): p50 %s, p95 %s, p99 %s\n", s, len(d), pct(d, 0.5), pct(d, 0.95), pct(d, 0.99))
		}
		for _, r := range slices.Sorted(maps.Keys(byRoute)) {
			d := byRoute[r]
			fmt.Printf("  %s: %d, server p50 %s, p95 %s\n", r, len(d), pct(d, 0.5), pct(d, 0.95))
		}
	}
}

// pct is the f-quantile of d (sorted in place), nearest rank below.
func pct(d []time.Duration, f float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(f*float64(len(d)-1))].Round(100 * time.Microsecond)
}

// loadavg is the machine's 1-minute load average, as uptime shows it.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// serverTimes reads a doorstep request log (text: key=value, or JSON lines)
// and returns the duration_ms of the requests logged within [from, to] on
// the given routes, by screen and by route.
func serverTimes(path string, from, to time.Time, routes map[string]string) (map[string][]time.Duration, map[string][]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	byScreen, byRoute := map[string][]time.Duration{}, map[string][]time.Duration{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		var rec struct {
			Time     time.Time `json:"time"`
			Msg      string    `json:"msg"`
			Route    string    `json:"route"`
			Duration float64   `json:"duration_ms"`
		}
		if strings.HasPrefix(line, "{") {
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
		} else {
			kv := textFields(line)
			if kv["msg"] != "request" {
				continue
			}
			rec.Msg, rec.Route = kv["msg"], kv["route"]
			rec.Time, _ = time.Parse(time.RFC3339Nano, kv["time"])
			rec.Duration, _ = strconv.ParseFloat(kv["duration_ms"], 64)
		}
		screen, ok := routes[rec.Route]
		if rec.Msg != "request" || !ok || rec.Time.Before(from) || rec.Time.After(to) {
			continue
		}
		d := time.Duration(rec.Duration * float64(time.Millisecond))
		byScreen[screen] = append(byScreen[screen], d)
		byRoute[rec.Route] = append(byRoute[rec.Route], d)
	}
	return byScreen, byRoute, sc.Err()
}

// textFields splits a log/slog text line into its keys and values (quoted
// values unquoted).
func textFields(line string) map[string]string {
	kv := map[string]string{}
	for line != "" {
		line = strings.TrimLeft(line, " ")
		k, rest, ok := strings.Cut(line, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		kv[k] = v
		line = rest
	}
	return kv
}

// client signs in and returns a client holding the session cookie, and the
// communities of the user.
func client(base, login, pw string) (*http.Client, []string) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	body, _ := json.Marshal(map[string]string{"login": login, "password": pw})
	req, _ := http.NewRequest("POST", base+"/v1/session", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var session struct {
		Principal struct {
			Communities []string `json:"communities"`
		} `json:"principal"`
	}
	err = json.NewDecoder(res.Body).Decode(&session)
	res.Body.Close()
	if res.StatusCode != 200 || err != nil {
		log.Fatalf("sign in: %d %v", res.StatusCode, err)
	}
	u, _ := url.Parse(base)
	if len(jar.Cookies(u)) == 0 {
		log.Fatal("no session cookie")
	}
	return c, session.Principal.Communities
}

// get fetches u as a browser would (gzip accepted) and returns the bytes
// transferred.
func get(c *http.Client, u string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		log.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	return int(n)
}

func getJSON(c *http.Client, u string, v any) {
	res, err := c.Get(u)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		log.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		log.Fatal(err)
	}
}
