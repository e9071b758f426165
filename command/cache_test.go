package command_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// The stream cache never hides another writer's events: a second service
// on the same store (another node, the deadline watcher) appends between
// this service's commands, and every load still sees the whole stream,
// decides on it, and recognises a command the other writer handled.
func TestStreamCacheFollowsOtherWriters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	other, err := command.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.CacheEvents = -1
	uncached, err := command.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "visit-1", "网格员小李", "2026-03-02 12:00"), "h1", visit(t, "v1", "2026-03-02 10:00")))
	_ = e.household("h1") // cached at version 3

	byOther := ok(t)(other.ChangeRisk(ctx, cmd(t, "risk-1", "网格员小王", "2026-03-02 13:00"), "h1", domain.RiskRed, "独居且生病"))
	// The cached service decides on the other writer's event: a conditional
	// command at the version it last saw is refused, at the current one it runs.
	c := cmd(t, "visit-2", "网格员小李", "2026-03-03 12:00")
	stale := uint64(3)
	c.Expect = &stale
	if _, err := e.svc.RecordVisit(ctx, c, "h1", visit(t, "v2", "2026-03-03 10:00")); err == nil {
		t.Fatal("a command conditional on the cached version ran over the other writer's event")
	}
	c.Expect = &byOther.LastVersion
	r := ok(t)(e.svc.RecordVisit(ctx, c, "h1", visit(t, "v2", "2026-03-03 10:00")))
	if r.FirstVersion != byOther.LastVersion+1 {
		t.Fatalf("appended at version %d after the other writer's %d", r.FirstVersion, byOther.LastVersion)
	}
	// A command the other writer handled is recognised as a resend.
	again := ok(t)(e.svc.ChangeRisk(ctx, cmd(t, "risk-1", "网格员小王", "2026-03-02 13:00"), "h1", domain.RiskRed, "独居且生病"))
	if !again.Replayed || again.AppendResult != byOther.AppendResult {
		t.Fatalf("resend through the cached service = %+v, want the original %+v", again, byOther)
	}
	// The other writer appends again; both services and an uncached one agree.
	ok(t)(other.RecordVisit(ctx, cmd(t, "visit-3", "网格员小王", "2026-03-04 12:00"), "h1", visit(t, "v3", "2026-03-04 10:00")))
	want, err := uncached.Household(ctx, "h1", domain.AsOf{})
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range map[string]*command.Service{"this": e.svc, "other": other} {
		got, err := svc.Household(ctx, "h1", domain.AsOf{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Version() != 6 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s service folds version %d, uncached %d", name, got.Version(), want.Version())
		}
	}
	// As-of loads ignore what the cache holds beyond their bound.
	old, err := e.svc.Household(ctx, "h1", domain.UntilVersion(3))
	if err != nil {
		t.Fatal(err)
	}
	if old.Version() != 3 || old.Risk() != domain.RiskBlue {
		t.Errorf("as of version 3: version %d risk %s", old.Version(), old.Risk())
	}
}

// Cached decoded events are shared by every fold that uses them: folding
// them again and again, with commands in between that change members,
// needs and visits, gives exactly what an uncached service folds from the
// stored bytes each time.
func TestStreamCacheSharesDecodedEventsSafely(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := e.cfg
	cfg.CacheEvents = -1
	uncached, err := command.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	same := func(step string) {
		t.Helper()
		want, err := uncached.Household(ctx, "h1", domain.AsOf{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			got, err := e.svc.Household(ctx, "h1", domain.AsOf{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: the cached fold differs from the uncached one (load %d)", step, i+1)
			}
		}
	}
	e.register("h1", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m1", "网格员小李", "2026-03-02 09:20"), "h1", "m1", command.Member{Name: "王芳", Relation: "本人", Phone: "13800000000", Health: "高血压"}))
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m2", "网格员小李", "2026-03-02 09:30"), "h1", "m2", command.Member{Name: "李强", Relation: "子女"}))
	ok(t)(e.svc.AssessNeeds(ctx, cmd(t, "needs-1", "网格员小李", "2026-03-02 09:40"), "h1", map[domain.NeedDomain][]string{domain.NeedMedical: {"康复"}}, ""))
	same("after registration, members and needs")
	ok(t)(e.svc.ChangeMember(ctx, cmd(t, "m1-change", "网格员小李", "2026-03-02 10:00"), "h1", "m1", command.Member{Name: "王芳", Relation: "本人", Phone: "13900000000"}, "换号"))
	ok(t)(e.svc.RemoveMember(ctx, cmd(t, "m2-left", "网格员小李", "2026-03-02 10:10"), "h1", "m2", "外出务工"))
	ok(t)(e.svc.AssessNeeds(ctx, cmd(t, "needs-2", "网格员小李", "2026-03-02 10:20"), "h1", map[domain.NeedDomain][]string{domain.NeedMedical: {"康复", "陪诊"}}, ""))
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "visit-1", "网格员小李", "2026-03-02 12:00"), "h1", visit(t, "v1", "2026-03-02 11:00")))
	same("after changes")
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "visit-2", "网格员小李", "2026-03-03 12:00"), "h1", visit(t, "v2", "2026-03-03 11:00")))
	same("after another visit")
}
