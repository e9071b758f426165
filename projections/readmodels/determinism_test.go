package readmodels_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/sim"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/periodclose"
	"github.com/doorstep/doorstep/projections"
	pcoverage "github.com/doorstep/doorstep/projections/coverage"
	"github.com/doorstep/doorstep/projections/measures"
	"github.com/doorstep/doorstep/projections/readmodels"
	"github.com/doorstep/doorstep/town"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func dumpAll(t testing.TB, env *testenv.Env, ps []projections.Projection) string {
	t.Helper()
	d, err := projections.Dump(context.Background(), env.DB, readmodels.Tables(ps)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < min(len(la), len(lb)); i++ {
		if la[i] != lb[i] {
			return "line " + la[i] + "\n  vs " + lb[i]
		}
	}
	return "lengths differ"
}

// Rebuilding every projection from position 0 gives exactly the state that
// live processing gave while the generated 2,155-household town (002) was
// being written and the deadline watcher appended the year's alerts.
func TestRebuildEqualsLive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := testenv.New(t)
	ps := readmodels.AllOpened(env.Policies, env.Cal, env.Loc, nil, sim.NewKeys())
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store, BatchSize: 500, PollInterval: 20 * time.Millisecond}, ps...)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	start := time.Now()
	cfg := town.Seed2155(2155)
	cfg.Sealer, cfg.TempDir = sim.NewKeys(), t.TempDir()
	stats, err := town.Write(ctx, env.Store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("town written in %v: %+v", time.Since(start), stats)
	// The town has no rectification cases yet: one case with a 约谈 and a
	// failed 回头看, whose deadlines the watcher then breaches.
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	rc := func(id string, at time.Time) command.Cmd {
		return command.Cmd{ID: id, Actor: "督查办", Role: domain.RoleSupervisor, At: at}
	}
	opened := time.Date(2026, 10, 9, 9, 0, 0, 0, env.Loc)
	if _, err := svc.OpenRectification(ctx, command.Cmd{ID: "rect-open", Actor: "rectification-opener", Role: domain.RoleSystem, At: opened}, "rect-1",
		domain.OpenRectification{Community: "竹园村", Source: domain.SourceFlag, Measure: "resolution.two_months", Periods: []string{"2026-08", "2026-09"},
			ReasonEN: "two months below 80%", ReasonZH: "连续两个月低于80%"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecordRectificationInterview(ctx, rc("rect-iv", opened.Add(24*time.Hour)), "rect-1", domain.RecordInterview{Interviewer: "街道张书记",
		Interviewee: "竹园村书记", HeldAt: opened.Add(23 * time.Hour), Minutes: "约谈"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReviewRectification(ctx, rc("rect-rev", time.Date(2026, 11, 20, 9, 0, 0, 0, env.Loc)), "rect-1", domain.ReviewFailed, "未整改到位"); err != nil {
		t.Fatal(err)
	}
	// The town hands over no relief yet: one household given a festival
	// gift on a visit (decision 0128).
	rv := func(id string, at time.Time) command.Cmd {
		return command.Cmd{ID: id, Actor: "李四", Role: domain.RoleGridWorker, At: at}
	}
	if _, err := svc.RegisterHousehold(ctx, rv("relief-reg", opened), "relief-h1", domain.RegisterHousehold{Address: "竹园村 1 号",
		Community: "竹园村", Grid: "竹园村-1", ResponsibleWorker: "李四", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddMember(ctx, rv("relief-m1", opened.Add(time.Minute)), "relief-h1", "m1", command.Member{Name: "王大爷", Relation: "本人"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecordVisit(ctx, rv("relief-v1", opened.Add(time.Hour)), "relief-h1", command.Visit{Team: []string{"李四"}, Purpose: domain.PurposeFestival,
		OccurredAt: opened.Add(time.Hour), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
		Relief: []domain.Relief{{Kind: domain.ReliefFestivalGift, Items: []domain.ReliefItem{{Name: "月饼", Quantity: 2, Unit: "盒"}},
			Recipient: "m1", AckMethod: domain.AckSignature}}}); err != nil {
		t.Fatal(err)
	}
	// The deadline watcher records the alerts due by the end of the year while the engine follows.
	start = time.Now()
	w, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal,
		Supervisor: func(s deadline.Subject) string { return "sup-" + s.Community }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	alertsAdded, err := w.Fire(ctx, time.Date(2026, 12, 31, 12, 0, 0, 0, env.Loc))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("watcher recorded %d alerts in %v", alertsAdded, time.Since(start))
	if alertsAdded == 0 {
		t.Fatal("the watcher found no deadline to alert in a year of the town")
	}
	// The town closes no period: the closer closes June from the read
	// models the engine keeps live, recording its figures and flags.
	caughtUp := func(ctx context.Context) error {
		h, err := env.Store.Head(ctx)
		if err != nil {
			return err
		}
		for _, name := range []string{measures.Name, pcoverage.Name} {
			if err := eng.WaitFor(ctx, name, h); err != nil {
				return err
			}
		}
		return nil
	}
	cl, err := periodclose.New(periodclose.Config{Store: env.Store, Coverage: pcoverage.NewReader(env.DB, env.Dialect).WithOpener(sim.NewKeys()),
		Resolution: measures.NewReader(env.DB, env.Dialect), Policies: env.Policies, Calendar: env.Cal,
		Clock: benchClock{time.Date(2026, 7, 1, 1, 0, 0, 0, env.Loc)}, From: "2026-06"})
	if err != nil {
		t.Fatal(err)
	}
	if err := caughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := cl.CloseMonth(ctx, "2026-06"); err != nil || n == 0 {
		t.Fatalf("closing June: %d ledgers, %v", n, err)
	}
	start = time.Now()
	head, err := env.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, c2 := context.WithTimeout(ctx, 2*time.Minute)
	defer c2()
	for _, name := range eng.Projections() {
		if err := eng.WaitFor(wctx, name, head); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("live caught up %v later", time.Since(start))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	live := dumpAll(t, env, ps)
	for _, table := range readmodels.Tables(ps) {
		if strings.Contains(live, "== "+table+" (0 rows)") {
			t.Errorf("table %s is empty after live processing", table)
		}
	}
	ctx = context.Background()
	for _, batch := range []int{333} { // not the live batch size: other batch boundaries
		start = time.Now()
		if _, err := eng.Rebuild(ctx, batch, nil); err != nil {
			t.Fatal(err)
		}
		t.Logf("rebuilt in %v", time.Since(start))
		if rebuilt := dumpAll(t, env, ps); rebuilt != live {
			t.Fatalf("rebuild with batches of %d differs from live processing: %s", batch, firstDiff(live, rebuilt))
		}
	}
}
