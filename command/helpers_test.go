package command_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/keystore"
)

// clock is a settable test clock, shared by the service (command time) and
// the store (recorded-at).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// env is a service on a real SQLite store in a temp dir, with a file key
// store in another directory.
type env struct {
	t      *testing.T
	dir    string
	dbPath string
	clock  *clock
	store  *sqlite.Store
	vault  *keystore.Vault
	svc    *command.Service
	cfg    command.Config
}

func shanghai(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := calendar.LoadLocation("")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// at parses "2006-01-02 15:04" in Asia/Shanghai.
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func newEnv(t *testing.T, tune ...func(*command.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, dbPath: filepath.Join(dir, "events", "events.db"), clock: &clock{t: at(t, "2026-03-02 08:00")}}
	if err := os.Mkdir(filepath.Dir(e.dbPath), 0o700); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	e.vault = keystore.New(ks, keystore.Config{Now: e.clock.Now})
	e.open(tune...)
	t.Cleanup(func() { e.store.Close() })
	return e
}

func (e *env) open(tune ...func(*command.Config)) {
	e.t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: e.dbPath, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = st
	e.cfg = command.Config{Store: st, Sealer: e.vault, Clock: e.clock.Now}
	for _, f := range tune {
		f(&e.cfg)
	}
	if e.svc, err = command.New(e.cfg); err != nil {
		e.t.Fatal(err)
	}
}

// restart closes the store and opens everything again, as after a crash or deploy.
func (e *env) restart() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

// cmd is a command by actor at time when ("" = the clock).
func cmd(tb testing.TB, id, actor, when string) command.Cmd {
	tb.Helper()
	c := command.Cmd{ID: id, Actor: actor, Role: domain.RoleGridWorker}
	if when != "" {
		c.At = at(tb, when)
	}
	return c
}

// ok fails the test on a command error and returns the result.
func ok(tb testing.TB) func(command.Result, error) command.Result {
	return func(r command.Result, err error) command.Result {
		tb.Helper()
		if err != nil {
			tb.Fatalf("command failed: %v", err)
		}
		return r
	}
}

// fails asserts a command was refused with a bilingual *domain.Error of
// code and kind, and that it appended nothing.
func fails(tb testing.TB, r command.Result, err error, code string, kind error) *domain.Error {
	tb.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		tb.Fatalf("want *domain.Error %s, got %v (result %+v)", code, err, r)
	}
	if de.Code != code || !errors.Is(err, kind) || de.Message == "" || de.MessageZH == "" {
		tb.Fatalf("want %s (%v), got %s: %v / %s", code, kind, de.Code, err, de.MessageZH)
	}
	if r.Events != 0 {
		tb.Fatalf("refused command appended %d events", r.Events)
	}
	return de
}

// stream reads a whole stream.
func (e *env) stream(name string) []eventstore.Event {
	e.t.Helper()
	evs, err := e.store.ReadStream(context.Background(), name, eventstore.Forward, 1, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func types(evs []eventstore.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func (e *env) types(stream string) []string { return types(e.stream(stream)) }

func (e *env) wantTypes(stream string, want ...string) {
	e.t.Helper()
	if got := e.types(stream); !slices.Equal(got, want) {
		e.t.Fatalf("%s events:\n got %v\nwant %v", stream, got, want)
	}
}

func (e *env) household(id string) *domain.Household {
	e.t.Helper()
	h, err := e.svc.Household(context.Background(), id, domain.AsOf{})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) problem(id string) *domain.Problem {
	e.t.Helper()
	p, err := e.svc.Problem(context.Background(), id, domain.AsOf{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) referral(id string) *domain.Referral {
	e.t.Helper()
	r, err := e.svc.Referral(context.Background(), id, domain.AsOf{})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// register opens a consenting household in 幸福社区 / 第3网格 at when.
func (e *env) register(id string, class domain.HouseholdClass, risk domain.RiskLevel, when string) {
	e.t.Helper()
	ctx := context.Background()
	ok(e.t)(e.svc.RegisterHousehold(ctx, cmd(e.t, "reg-"+id, "网格员小李", when), id, domain.RegisterHousehold{
		Address: "幸福社区 " + id, Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李", Class: class, Risk: risk}))
	c := cmd(e.t, "consent-"+id, "网格员小李", when)
	if when != "" { // else the clock's time (adding to the zero time gave year 1)
		c.At = c.At.Add(time.Minute)
	}
	ok(e.t)(e.svc.RecordConsent(ctx, c, id, true, "走访及救助所需信息", ""))
}

// report reports a problem and returns its id and number.
func (e *env) report(cmdID, hh, visit, desc string, cat domain.ProblemCategory, hc domain.HandlingClass, col domain.Colour, u domain.Urgency, when string) (string, string) {
	e.t.Helper()
	r := ok(e.t)(e.svc.ReportProblem(context.Background(), cmd(e.t, cmdID, "网格员小李", when), command.ReportProblem{
		ProblemID: cmdID, HouseholdID: hh, VisitID: visit, Description: desc, Category: cat, HandlingClass: hc, Colour: col, Urgency: u}))
	return r.ID, r.Number
}

// evidence completes a completed home visit with what the shipped policy
// asks of any class (decision 0120): roles read from the names
// ("网格员…", "社工…", "医生…", "志愿者…", "书记…"; others grid workers), a
// grid worker, a doctor and a volunteer added when missing, a purpose, the
// five understandings, the next contact and a check-in at the visit.
func evidence(in command.Visit) command.Visit {
	roleOf := func(p string) domain.TeamRole {
		for prefix, r := range map[string]domain.TeamRole{"网格员": domain.TeamGridWorker, "社工": domain.TeamSocialWorker,
			"医生": domain.TeamDoctor, "志愿者": domain.TeamVolunteer, "书记": domain.TeamSecretary} {
			if strings.HasPrefix(p, prefix) {
				return r
			}
		}
		return domain.TeamGridWorker
	}
	in.Members = nil
	has := map[domain.TeamRole]bool{}
	for _, p := range in.Team {
		in.Members = append(in.Members, domain.TeamMember{Person: p, Role: roleOf(p)})
		has[roleOf(p)] = true
	}
	if !has[domain.TeamGridWorker] && !has[domain.TeamSecretary] {
		in.Members = append(in.Members, domain.TeamMember{Person: "网格员小李", Role: domain.TeamGridWorker})
	}
	if !has[domain.TeamDoctor] {
		in.Members = append(in.Members, domain.TeamMember{Person: "医生王", Role: domain.TeamDoctor})
	}
	if !has[domain.TeamVolunteer] {
		in.Members = append(in.Members, domain.TeamMember{Person: "志愿者小陈", Role: domain.TeamVolunteer})
	}
	in.Team = nil
	in.Purpose = domain.PurposeRoutine
	in.Covered = domain.FiveUnderstandings()
	in.NextContact = &domain.NextContact{Person: in.Members[0].Person, At: in.OccurredAt.Add(7 * 24 * time.Hour)}
	c := domain.CheckIn{Ref: "checkin-1"}
	if in.CheckIn != nil {
		c = *in.CheckIn
	}
	c.At = in.OccurredAt
	in.CheckIn = &c
	return in
}
