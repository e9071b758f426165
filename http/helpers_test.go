package http

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"github.com/doorstep/doorstep/account"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/clock"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/alerts"
	"github.com/doorstep/doorstep/projections/audit"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/flags"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/profile"
	"github.com/doorstep/doorstep/projections/rectifications"
	"github.com/doorstep/doorstep/projections/relief"
	"github.com/doorstep/doorstep/projections/worklist"
	"github.com/doorstep/doorstep/retention"
)

// testEnv is a server on a real SQLite store in a temp dir.
type testEnv struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	store  *sqlite.Store
	tokens *identity.Tokens
	vault  *keystore.Vault
	access testAccess
	admin  string
	app    *command.Service
	val    *validator
	client *nethttp.Client
	rdb    *sql.DB // the read-model database
	users  *account.Users
}

// testAccess is the real file log of sensitive reads, counted for tests.
type testAccess struct {
	*accesslog.File
	path string
	t    testing.TB
}

// count returns how many reads the log holds.
func (a testAccess) count() int {
	a.t.Helper()
	n := 0
	for _, id := range a.households() {
		recs, err := a.SensitiveReads(context.Background(), id, 1000, 0)
		if err != nil {
			a.t.Fatal(err)
		}
		n += len(recs)
	}
	return n
}

// households lists the households the log mentions.
func (a testAccess) households() []string {
	b, err := os.ReadFile(a.path)
	if err != nil {
		a.t.Fatal(err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		var r accesslog.Record
		if len(l) > 0 && json.Unmarshal(l, &r) == nil && !seen[r.HouseholdID] {
			seen[r.HouseholdID] = true
			ids = append(ids, r.HouseholdID)
		}
	}
	return ids
}

// newEnv starts a test server. extra, if not nil, adjusts the deps.
func newEnv(t testing.TB, extra func(*Deps)) *testEnv {
	t.Helper()
	return newEnvConfig(t, extra, nil)
}

// newEnvConfig is newEnv with tune, if not nil, adjusting the config.
func newEnvConfig(t testing.TB, extra func(*Deps), tune func(*Config)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	toks, err := identity.OpenTokens(filepath.Join(dir, identity.TokensFile))
	if err != nil {
		t.Fatal(err)
	}
	admin, created, err := toks.EnsureAdmin(ctx)
	if err != nil || !created {
		t.Fatalf("EnsureAdmin: %v %v", created, err)
	}
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	alPath := filepath.Join(dir, accesslog.FileName)
	al, err := accesslog.OpenFile(alPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	e := &testEnv{t: t, store: st, tokens: toks, admin: admin, vault: keystore.New(keys, keystore.Config{}), access: testAccess{al, alPath, t}}
	svc, err := command.New(command.Config{Store: st, Sealer: e.vault})
	if err != nil {
		t.Fatal(err)
	}
	e.app = svc
	db, err := projections.OpenSQLite(ctx, filepath.Join(dir, "events.readmodels.db"))
	if err != nil {
		t.Fatal(err)
	}
	cal := svc.Calendar()
	e.rdb = db
	prof := profile.New(svc.Policies(), cal)
	prof.SetOpener(e.vault) // the class is sealed (decision 0148)
	eng, err := projections.New(projections.Config{DB: db, Store: st, RetryMax: 50 * time.Millisecond},
		prof, alerts.New(), audit.NewIndex(), measures.New(cal.Location()), pcoverage.New(), worklist.New(svc.Policies(), cal), rectifications.New(), flags.New(), relief.New(cal.Location()))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { defer close(ran); _ = eng.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-ran; eng.Close(); db.Close() })
	read := ReadModels{Engine: eng, Profiles: profile.NewReader(db, nil), Alerts: alerts.NewReader(db, nil),
		Trail: audit.NewTrail(db, nil, st, nil), Measures: measures.NewReader(db, nil), Worklist: worklist.NewReader(db, nil), Rectifications: rectifications.NewReader(db, nil), Flags: flags.NewReader(db, nil), Relief: relief.NewReader(db, nil), Visits: pcoverage.NewReader(db, nil).WithOpener(e.vault),
		Coverage: pcoverage.Live{Reader: pcoverage.NewReader(db, nil).WithOpener(e.vault), Policies: svc.Policies(), Location: cal.Location()}}
	users, err := account.OpenFile(ctx, filepath.Join(dir, account.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(users.Close)
	e.users = users
	d := Deps{Store: st, Tokens: toks, Opener: e.vault, Access: e.access, Commands: svc, Read: read, Users: users, Webhooks: testWebhooks(t, st, db, e.vault, e.access),
		Consumers: testCursors(t, st, db)}
	if d.Retention, err = retention.New(retention.Config{Store: st, Commands: svc, Clock: serverClock{}}); err != nil {
		t.Fatal(err)
	}
	if extra != nil {
		extra(&d)
	}
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 4096
	cfg.Heartbeat = 50 * time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	e.srv, err = New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(scanProblems(t, e.srv.Handler())) // every refusal's Chinese is scanned (messagescan_test.go)
	t.Cleanup(e.ts.Close)
	e.val = newValidator(t, e.srv, e.ts.Client().Transport)
	e.client = &nethttp.Client{Transport: e.val}
	return e
}

// token issues a token for p.
func (e *testEnv) token(p identity.Principal) string {
	e.t.Helper()
	tok, err := e.tokens.Create(context.Background(), p, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header nethttp.Header
	body   []byte
}

func (r resp) problem(t testing.TB) Problem {
	t.Helper()
	var p Problem
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want problem+json; body %s", ct, r.body)
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	return p
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *testEnv) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := nethttp.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

type (
	muxRoute  = mux.Route
	muxRouter = mux.Router
)

// fullVisit completes a completed home visit request with what the
// shipped policy asks of any household class (decision 0120): the
// members with roles (the first of the team as grid worker, a doctor and
// a volunteer), the purpose, the five understandings, the next contact
// and a check-in at the visit.
func fullVisit(v VisitRequest) VisitRequest {
	v.Members = []VisitMemberRequest{{Person: v.Team[0], Role: "grid_worker"}, {Person: "医生王", Role: "doctor"}, {Person: "志愿者小陈", Role: "volunteer"}}
	v.Team = nil
	v.Purpose = "routine"
	v.Covered = []string{"health", "economic", "support_obligations", "home_safety", "service_needs"}
	at, _ := time.Parse(time.RFC3339, v.OccurredAt)
	v.NextContact = &NextContactRequest{Person: v.Members[0].Person, At: at.Add(7 * 24 * time.Hour).Format(time.RFC3339)}
	v.CheckIn = &CheckInRequest{At: v.OccurredAt, Ref: "checkin-1"}
	return v
}

// serverClock is the clock the server reads (internal/clock), for the
// retention task's preview.
type serverClock struct{}

func (serverClock) Now() time.Time { return clock.Now() }
