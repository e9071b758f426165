// Command consoleload measures what the console's users make the server do:
// -users simulated people (sessions signed in once), each loading the
// supervisor dashboard or a household file as the browser does (the page,
// its assets compressed, then the API calls of the screen), one after the
// other, for -duration. It prints the latency of each screen's requests
// (p50, p95, p99, measured at the client on loopback: an upper bound of the
// server's time) and the bytes of a first load.
//
//	go run ./scripts/consoleload -url http://127.0.0.1:8080 -login sup -password-file FILE -users 50 -duration 30s
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
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
	flag.Parse()
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
	lat := map[string][]time.Duration{}
	stop := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for u := range *users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[u]
			for i := 0; time.Now().Before(stop); i++ {
				screen, paths := "dashboard", dash
				if i%2 == 1 {
					screen, paths = "household file", file(list.Households[(u*7+i)%len(list.Households)].ID)
				}
				// The browser asks a screen's API calls at once.
				var sw sync.WaitGroup
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
			}
		}()
	}
	wg.Wait()
	fmt.Printf("first load of the dashboard page: %d bytes transferred (gzip)\n", first)
	fmt.Printf("%d sign-ins at once: %s until the last one was done\n", *users, signIn.Round(time.Millisecond))
	for _, s := range []string{"dashboard", "household file"} {
		d := lat[s]
		slices.Sort(d)
		q := func(f float64) time.Duration { return d[int(f*float64(len(d)-1))].Round(100 * time.Microsecond) }
		fmt.Printf("%s: %d requests by %d users in %s; p50 %s, p95 %s, p99 %s\n", s, len(d), *users, *dur, q(0.5), q(0.95), q(0.99))
	}
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
