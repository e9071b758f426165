package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeServer answers the routes the driver uses: two households in two
// communities, one with an open problem; progress notes fail with 409.
func fakeServer(t *testing.T, households int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/households", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		hs := []map[string]any{
			{"household_id": "h1", "community": "C1", "worker": "李四", "open_problems": 1},
			{"household_id": "h2", "community": "C2", "worker": "", "open_problems": 0},
		}[:households]
		if r.URL.Query().Get("offset") != "0" {
			hs = nil
		}
		json.NewEncoder(w).Encode(map[string]any{"households": hs})
	})
	mux.HandleFunc("GET /v1/households/{id}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"problems": []map[string]string{{"id": "p1", "status": "open"}, {"id": "p0", "status": "closed"}}})
	})
	mux.HandleFunc("GET /v1/alerts", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })
	mux.HandleFunc("POST /v1/households/{id}/visits", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil || body["mode"] != "home" {
			http.Error(w, "bad visit", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{}`))
	})
	mux.HandleFunc("POST /v1/problems/{id}/progress", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "p1" {
			t.Errorf("progress on %s, not the open problem p1", r.PathValue("id"))
		}
		w.WriteHeader(http.StatusConflict)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDriverRun(t *testing.T) {
	srv := fakeServer(t, 2)
	ctx := context.Background()
	d, err := New(ctx, Config{URL: srv.URL + "/", Token: "tok", Reads: 200, Writes: 200, MaxInflight: 512, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if h, p, c := d.Targets(); h != 2 || p != 1 || c != 2 || d.URL() != srv.URL {
		t.Fatalf("targets %d households, %d problems, %d communities at %s", h, p, c, d.URL())
	}
	d.Run(ctx, 100*time.Millisecond) // a warm-up: not counted below
	res := d.Run(ctx, 400*time.Millisecond)
	byName := map[string]Route{}
	for i, r := range res.Routes {
		byName[r.Name] = r
		if i > 0 && res.Routes[i-1].Name >= r.Name {
			t.Errorf("routes not sorted: %s before %s", res.Routes[i-1].Name, r.Name)
		}
	}
	reads, visits, progress := byName["GET /v1/households/{id}"], byName["POST /v1/households/{id}/visits"], byName["POST /v1/problems/{id}/progress"]
	if reads.OK() == 0 || reads.Errors != 0 || visits.OK() == 0 || visits.Errors != 0 {
		t.Fatalf("reads %+v, visits %+v", reads, visits)
	}
	if progress.OK() != 0 || progress.Errors == 0 || progress.Codes[409] != progress.Errors {
		t.Fatalf("progress notes answered 409 should count as errors: %+v", progress)
	}
	if res.Failed() != progress.Errors+res.Dropped {
		t.Fatalf("Failed() = %d, want %d errors + %d dropped", res.Failed(), progress.Errors, res.Dropped)
	}
	// Every request sent or dropped was due within the run, at 400 per
	// second in all: the warm-up's are not counted. (How many are due
	// depends on the machine: a starved timer lets a run overshoot.)
	total := 0
	for _, r := range res.Routes {
		sum := 0
		for _, n := range r.Codes {
			sum += n
		}
		if sum != r.OK()+r.Errors {
			t.Errorf("%s: status codes %v do not add up to %d ok + %d errors", r.Name, r.Codes, r.OK(), r.Errors)
		}
		total += sum
	}
	if due := int(400*res.Elapsed.Seconds()) + 2; total+res.Dropped > due {
		t.Errorf("%d requests and %d dropped in %s, more than the %d due at 400/s", total, res.Dropped, res.Elapsed, due)
	}
	if res.Elapsed < 400*time.Millisecond {
		t.Errorf("elapsed %s, less than the run", res.Elapsed)
	}
}

func TestNoHouseholds(t *testing.T) {
	srv := fakeServer(t, 0)
	_, err := New(context.Background(), Config{URL: srv.URL, Token: "tok", MaxInflight: 1})
	if err == nil || !strings.Contains(err.Error(), "run doorstep demo first") {
		t.Fatalf("New on an empty server: %v", err)
	}
	_, err = New(context.Background(), Config{URL: srv.URL, Token: "wrong", MaxInflight: 1})
	if err == nil || !strings.Contains(err.Error(), "bench: GET /v1/households?limit=500&offset=0: 401") {
		t.Fatalf("New with a wrong token: %v", err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var r Route
	if r.Percentile(.5) != 0 {
		t.Fatal("percentile of nothing is not zero")
	}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, ms(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{.50, ms(50)}, {.90, ms(90)}, {.99, ms(99)}, {1, ms(100)}, {0, ms(1)}} {
		if got := r.Percentile(c.p); got != c.want {
			t.Errorf("Percentile(%v) = %s, want %s", c.p, got, c.want)
		}
	}
}
