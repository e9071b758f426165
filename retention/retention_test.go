package retention

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/keystore"
)

// testClock is the injected clock: tests move it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type env struct {
	t     *testing.T
	store *sqlite.Store
	svc   *command.Service
	vault *keystore.Vault
	clk   *testClock
	loc   *time.Location
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	loc := time.FixedZone("CST", 8*3600)
	clk := &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, loc)}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db"), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ks, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	v := keystore.New(ks, keystore.Config{Now: clk.Now})
	svc, err := command.New(command.Config{Store: st, Sealer: v, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, svc: svc, vault: v, clk: clk, loc: loc}
}

func (e *env) ok(_ command.Result, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) cmd(id string) command.Cmd {
	return command.Cmd{ID: id, Actor: "网格员小李", Role: domain.RoleGridWorker}
}

// household registers id with a member whose phone is sealed, and
// archives it at archived (zero: not archived).
func (e *env) household(id string, archived time.Time) {
	e.t.Helper()
	ctx := context.Background()
	e.clk.set(time.Date(2026, 1, 5, 9, 0, 0, 0, e.loc))
	e.ok(e.svc.RegisterHousehold(ctx, e.cmd("reg-"+id), id, domain.RegisterHousehold{Address: "幸福社区 " + id, Community: "幸福社区",
		Grid: "第3网格", ResponsibleWorker: "网格员小李", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}))
	e.ok(e.svc.RecordConsent(ctx, e.cmd("consent-"+id), id, true, "", ""))
	e.ok(e.svc.AddMember(ctx, e.cmd("m-"+id), id, "m1", command.Member{Name: "成员", Relation: "本人", Phone: "13900000001"}))
	if !archived.IsZero() {
		e.clk.set(archived)
		c := e.cmd("arch-" + id)
		c.Role = domain.RoleSupervisor
		e.ok(e.svc.Archive(ctx, c, id, domain.ArchiveMovedAway, ""))
	}
}

// erasureEvents counts the erasure events of a household's stream.
func (e *env) erasureEvents(id string) map[string]int {
	e.t.Helper()
	evs, err := e.store.ReadStream(context.Background(), domain.HouseholdStream(id), eventstore.Forward, 1, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range evs {
		switch ev.Type {
		case domain.TypeHouseholdErasureRequested, domain.TypeHouseholdErasureApproved, domain.TypeHouseholdErasureCompleted:
			n[ev.Type]++
		}
	}
	return n
}

func (e *env) head() eventstore.Position {
	e.t.Helper()
	p, err := e.store.Head(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestRetentionErasesDueFilesOnce: under the shipped policy (closed files
// kept 36 months), a household archived long enough ago is erased by the
// task through the erasure path, one archived later is not, an open one is
// not; the preview lists exactly the due ones; two managers at once, a
// second run and a restart erase nothing twice.
func TestRetentionErasesDueFilesOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.household("old", time.Date(2026, 1, 10, 10, 0, 0, 0, e.loc))
	e.household("old2", time.Date(2026, 2, 1, 10, 0, 0, 0, e.loc))
	e.household("recent", time.Date(2027, 6, 1, 10, 0, 0, 0, e.loc))
	e.household("open", time.Time{})

	pol := e.svc.Policies().Current()
	if pol.Retention.ArchivedFile != domain.Months(36) {
		t.Fatalf("shipped retention: %v", pol.Retention.ArchivedFile)
	}
	m1, err := New(Config{Store: e.store, Commands: e.svc, Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	// Before any retention ends: nothing due, nothing erased.
	e.clk.set(time.Date(2029, 1, 10, 9, 59, 0, 0, e.loc))
	if got, err := m1.Preview(ctx, e.clk.Now()); err != nil || len(got) != 0 {
		t.Fatalf("preview a minute early: %+v %v", got, err)
	}
	if n, err := m1.EraseDue(ctx); err != nil || n != 0 {
		t.Fatalf("erase a minute early: %d %v", n, err)
	}

	e.clk.set(time.Date(2029, 3, 1, 9, 0, 0, 0, e.loc))
	got, err := m1.Preview(ctx, e.clk.Now())
	if err != nil || len(got) != 2 || got[0].HouseholdID != "old" || got[1].HouseholdID != "old2" {
		t.Fatalf("preview: %+v %v", got, err)
	}
	want := Item{HouseholdID: "old", Community: "幸福社区", ArchivedAt: time.Date(2026, 1, 10, 10, 0, 0, 0, e.loc),
		ErasesAt: time.Date(2029, 1, 10, 10, 0, 0, 0, e.loc), PolicyVersion: pol.Version, RequestID: RequestID("old")}
	if g := got[0]; !g.ArchivedAt.Equal(want.ArchivedAt) || !g.ErasesAt.Equal(want.ErasesAt) || g.Community != want.Community ||
		g.PolicyVersion != want.PolicyVersion || g.RequestID != want.RequestID {
		t.Fatalf("preview item %+v, want %+v", g, want)
	}
	// Further ahead, the recent one comes too; the open one never.
	if later, err := m1.Preview(ctx, time.Date(2030, 6, 2, 0, 0, 0, 0, e.loc)); err != nil || len(later) != 3 || later[2].HouseholdID != "recent" {
		t.Fatalf("preview to 2030: %+v %v", later, err)
	}

	// Two managers (two nodes) at once.
	m2, _ := New(Config{Store: e.store, Commands: e.svc, Clock: e.clk})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, m := range []*Manager{m1, m2} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = m.EraseDue(ctx) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"old", "old2"} {
		n := e.erasureEvents(id)
		if n[domain.TypeHouseholdErasureRequested] != 1 || n[domain.TypeHouseholdErasureApproved] != 1 || n[domain.TypeHouseholdErasureCompleted] != 1 {
			t.Fatalf("%s: erasure events %v, want one of each", id, n)
		}
		h, err := e.svc.Household(ctx, id, domain.AsOf{})
		if err != nil || !h.Erased() {
			t.Fatalf("%s not erased: %v", id, err)
		}
		r, _ := h.ErasureRequest(RequestID(id))
		if r.LegalBasis != domain.BasisRetentionExpired || r.Reference != domain.RetentionReference(pol) || r.By != "retention" || !r.Completed {
			t.Fatalf("%s: request %+v", id, r)
		}
		if _, err := e.vault.Open(ctx, id, h.Members()[0].Phone); err == nil {
			t.Fatalf("%s: the phone still opens", id)
		}
	}
	for _, id := range []string{"recent", "open"} {
		if n := e.erasureEvents(id); len(n) != 0 {
			t.Fatalf("%s: erasure events %v", id, n)
		}
		h, _ := e.svc.Household(ctx, id, domain.AsOf{})
		if v, err := e.vault.Open(ctx, id, h.Members()[0].Phone); err != nil || string(v) != "13900000001" {
			t.Fatalf("%s: phone %q %v", id, v, err)
		}
	}

	// Again, and after a restart (a new manager reading the log afresh):
	// nothing due, nothing appended.
	head := e.head()
	if n, err := m1.EraseDue(ctx); err != nil || n != 0 {
		t.Fatalf("second run: %d %v", n, err)
	}
	m3, _ := New(Config{Store: e.store, Commands: e.svc, Clock: e.clk})
	if got, err := m3.Preview(ctx, e.clk.Now()); err != nil || len(got) != 0 {
		t.Fatalf("preview after the erasure: %+v %v", got, err)
	}
	if n, err := m3.EraseDue(ctx); err != nil || n != 0 {
		t.Fatalf("run after a restart: %d %v", n, err)
	}
	if h := e.head(); h != head {
		t.Fatalf("the log grew from %s to %s", head, h)
	}
}

// flaky is a key store whose first erasure fails (down).
type flaky struct {
	*keystore.Vault
	mu     sync.Mutex
	failed bool
}

func (f *flaky) Erase(ctx context.Context, subject string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		f.failed = true
		return errors.New("key store unavailable")
	}
	return f.Vault.Erase(ctx, subject)
}

// TestRetentionCompletesAnApprovedErasure: a run that stopped after the
// approval (the key store down) is completed by the next run, with the
// same request and no second approval; a person's role cannot apply the end
// of retention.
func TestRetentionCompletesAnApprovedErasure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fl := &flaky{Vault: e.vault}
	svc, err := command.New(command.Config{Store: e.store, Sealer: fl, Clock: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.household("old", time.Date(2026, 1, 10, 10, 0, 0, 0, e.loc))
	e.clk.set(time.Date(2029, 3, 1, 9, 0, 0, 0, e.loc))
	c := command.Cmd{ID: "by-a-person", Actor: "王督导", Role: domain.RoleSupervisor}
	if _, err := e.svc.ExpireRetention(ctx, c, "old", RequestID("old")); err == nil {
		t.Fatal("a person's role applied the end of retention")
	}
	m, _ := New(Config{Store: e.store, Commands: e.svc, Clock: e.clk})
	if _, err := m.EraseDue(ctx); err == nil {
		t.Fatal("the first run should fail with the key store down")
	}
	if n := e.erasureEvents("old"); n[domain.TypeHouseholdErasureApproved] != 1 || n[domain.TypeHouseholdErasureCompleted] != 0 {
		t.Fatalf("after the failed run: %v", n)
	}
	m2, _ := New(Config{Store: e.store, Commands: e.svc, Clock: e.clk})
	if _, err := m2.EraseDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.erasureEvents("old"); n[domain.TypeHouseholdErasureRequested] != 1 || n[domain.TypeHouseholdErasureApproved] != 1 || n[domain.TypeHouseholdErasureCompleted] != 1 {
		t.Fatalf("events %v", n)
	}
	if h, _ := e.svc.Household(ctx, "old", domain.AsOf{}); !h.Erased() {
		t.Fatal("not erased")
	}
}
