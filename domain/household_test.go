package domain_test

import (
	"time"

	"context"
	"errors"
	"slices"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

func registered(t *testing.T, id string) (*domain.Household, *domain.Policy) {
	t.Helper()
	pol := mustPolicy(t, domain.PresetDefault)
	h := domain.NewHousehold(id)
	do(t, h)(h.Register(meta(t, "网格员小李", "2026-03-02 09:00"), pol, domain.RegisterHousehold{
		Address: "幸福路 12 号 3 单元 601", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李",
		Class: domain.ClassKey, Category: domain.CategoryDiBao, Risk: domain.RiskYellow}))
	return h, pol
}

func TestHouseholdRules(t *testing.T) {
	v := newVault()
	visit := func(id, when string, outcome domain.VisitOutcome) domain.RecordVisit {
		if outcome == domain.OutcomeCompleted {
			return evidence(domain.RecordVisit{VisitID: id, Team: []string{"网格员小李"}, OccurredAt: at(t, when), Mode: domain.ModeHome, Outcome: outcome})
		}
		return domain.RecordVisit{VisitID: id, Team: []string{"网格员小李"}, OccurredAt: at(t, when), Mode: domain.ModeHome, Outcome: outcome}
	}
	tests := []struct {
		name string
		run  func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error)
		code string
		kind error
	}{
		{"register twice", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.Register(meta(t, "a", "2026-03-03 09:00"), pol, domain.RegisterHousehold{Address: "x", Community: "c", Grid: "g", ResponsibleWorker: "w", Class: domain.ClassKey, Risk: domain.RiskRed})
		}, "household_exists", domain.ErrConflict},
		{"no actor", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.ChangeRisk(domain.Meta{At: at(t, "2026-03-03 09:00")}, domain.RiskRed, "r")
		}, "required", domain.ErrInvalid},
		{"sensitive member without consent", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.AddMember(meta(t, "a", "2026-03-03 09:00"), "m1", domain.MemberDetails{Name: "王芳", Relation: "本人", IDNumber: sealed(t, v, "h", "110101199001011234")})
		}, "consent_required", domain.ErrRule},
		{"member without name", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.AddMember(meta(t, "a", "2026-03-03 09:00"), "m1", domain.MemberDetails{Relation: "本人"})
		}, "required", domain.ErrInvalid},
		{"bad birth date", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.AddMember(meta(t, "a", "2026-03-03 09:00"), "m1", domain.MemberDetails{Name: "王芳", Relation: "本人", BirthDate: "1990/1/1"})
		}, "invalid_birth_date", domain.ErrInvalid},
		{"change unknown member", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.ChangeMember(meta(t, "a", "2026-03-03 09:00"), "nobody", domain.MemberDetails{Name: "x", Relation: "y"}, "r")
		}, "member_not_found", domain.ErrNotFound},
		{"class unchanged", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.ChangeClass(meta(t, "a", "2026-03-03 09:00"), pol, domain.ClassKey, "r")
		}, "no_change", domain.ErrRule},
		{"class without reason", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.ChangeClass(meta(t, "a", "2026-03-03 09:00"), pol, domain.ClassSpecial, "")
		}, "required", domain.ErrInvalid},
		{"unknown class", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.ChangeClass(meta(t, "a", "2026-03-03 09:00"), pol, "vip", "r")
		}, "invalid_class", domain.ErrInvalid},
		{"unknown category", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.ChangeCategory(meta(t, "a", "2026-03-03 09:00"), pol, "rich", "r")
		}, "invalid_category", domain.ErrInvalid},
		{"unknown need domain", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.AssessNeeds(meta(t, "a", "2026-03-03 09:00"), map[domain.NeedDomain][]string{"sport": {"x"}}, "")
		}, "invalid_needs", domain.ErrInvalid},
		{"consent already absent", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.RecordConsent(meta(t, "a", "2026-03-03 09:00"), false, "", "r")
		}, "no_change", domain.ErrRule},
		{"visit in the future", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.RecordVisit(meta(t, "a", "2026-03-03 09:00"), pol, visit("v1", "2026-03-03 10:00", domain.OutcomeCompleted))
		}, "visit_in_future", domain.ErrInvalid},
		{"refusal with problems", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			in := visit("v1", "2026-03-03 08:00", domain.OutcomeRefused)
			in.ProblemIDs = []string{"p1"}
			return h.RecordVisit(meta(t, "a", "2026-03-03 09:00"), pol, in)
		}, "visit_not_completed", domain.ErrRule},
		{"visit without team", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			in := visit("v1", "2026-03-03 08:00", domain.OutcomeCompleted)
			in.Team, in.Members = nil, nil
			return h.RecordVisit(meta(t, "a", "2026-03-03 09:00"), pol, in)
		}, "required", domain.ErrInvalid},
		{"bad mode", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			in := visit("v1", "2026-03-03 08:00", domain.OutcomeCompleted)
			in.Mode = "pigeon"
			return h.RecordVisit(meta(t, "a", "2026-03-03 09:00"), pol, in)
		}, "invalid_mode", domain.ErrInvalid},
		{"sealed understandings without consent", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			in := visit("v1", "2026-03-03 08:00", domain.OutcomeCompleted)
			in.Understandings.Health = sealed(t, v, "h", "高血压")
			return h.RecordVisit(meta(t, "a", "2026-03-03 09:00"), pol, in)
		}, "consent_required", domain.ErrRule},
		{"archive other without note", func(h *domain.Household, pol *domain.Policy) ([]domain.Event, error) {
			return h.Archive(meta(t, "a", "2026-03-03 09:00"), domain.ArchiveOther, "")
		}, "required", domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pol := registered(t, "h")
			before := h.Version()
			evs, err := tt.run(h, pol)
			fails(t, evs, err, tt.code, tt.kind)
			if h.Version() != before {
				t.Fatal("a command changed the aggregate")
			}
		})
	}

	t.Run("unregistered", func(t *testing.T) {
		h := domain.NewHousehold("h0")
		evs, err := h.ChangeRisk(meta(t, "a", "2026-03-03 09:00"), domain.RiskRed, "r")
		fails(t, evs, err, "household_not_found", domain.ErrNotFound)
		evs, err = h.Register(meta(t, "a", "2026-03-03 09:00"), mustPolicy(t, domain.PresetDefault), domain.RegisterHousehold{Community: "c"})
		fails(t, evs, err, "required", domain.ErrInvalid)
	})
	t.Run("archived", func(t *testing.T) {
		h, pol := registered(t, "h")
		do(t, h)(h.Archive(meta(t, "a", "2026-03-03 09:00"), domain.ArchiveMovedAway, "搬往外省"))
		evs, err := h.RecordVisit(meta(t, "a", "2026-03-04 09:00"), pol, visit("v9", "2026-03-04 08:00", domain.OutcomeCompleted))
		fails(t, evs, err, "household_archived", domain.ErrRule)
		if h.Clocks() != nil {
			t.Fatal("archived household runs no clock")
		}
	})
	t.Run("duplicate visit", func(t *testing.T) {
		h, pol := registered(t, "h")
		do(t, h)(h.RecordVisit(meta(t, "网格员小李", "2026-03-03 09:00"), pol, visit("v1", "2026-03-03 08:00", domain.OutcomeCompleted)))
		evs, err := h.RecordVisit(meta(t, "网格员小李", "2026-03-03 09:00"), pol, visit("v1", "2026-03-03 08:00", domain.OutcomeCompleted))
		fails(t, evs, err, "visit_exists", domain.ErrConflict)
	})
}

func TestHouseholdLifecycle(t *testing.T) {
	v := newVault()
	h, pol := registered(t, "h1")
	m := func(when string) domain.Meta { return meta(t, "网格员小李", when) }
	do(t, h)(h.RecordConsent(m("2026-03-02 09:05"), true, "家庭成员信息", ""))
	do(t, h)(h.AddMember(m("2026-03-02 09:10"), "m1", domain.MemberDetails{Name: "王建国", Relation: "本人", BirthDate: "1961-05-01",
		IDNumber: sealed(t, v, "h1", "110101196105011234"), Health: sealed(t, v, "h1", "慢性病")}))
	do(t, h)(h.AddMember(m("2026-03-02 09:11"), "m2", domain.MemberDetails{Name: "王小宇", Relation: "子女"}))
	evs, err := h.AddMember(m("2026-03-02 09:12"), "m2", domain.MemberDetails{Name: "x", Relation: "y"})
	fails(t, evs, err, "member_exists", domain.ErrConflict)
	do(t, h)(h.ChangeMember(m("2026-03-05 09:00"), "m2", domain.MemberDetails{Name: "王小宇", Relation: "子女", Occupation: "学生"}, "补充职业"))
	do(t, h)(h.RemoveMember(m("2026-03-06 09:00"), "m2", "外出务工"))
	do(t, h)(h.ChangeClass(m("2026-03-06 10:00"), pol, domain.ClassSpecial, "独居"))
	do(t, h)(h.ChangeCategory(m("2026-03-06 10:01"), pol, domain.CategoryTeKun, "审批通过"))
	do(t, h)(h.ChangeRisk(m("2026-03-06 10:02"), domain.RiskRed, "跌倒风险"))
	do(t, h)(h.AssignWorker(m("2026-03-06 10:03"), "网格员小王", "调岗"))
	do(t, h)(h.Relocate(m("2026-03-06 10:04"), "和平路 1 号", "和平社区", "第1网格", "搬迁"))
	do(t, h)(h.AssessNeeds(m("2026-03-06 10:05"), map[domain.NeedDomain][]string{domain.NeedMedical: {"康复"}, domain.NeedEmployment: nil}, ""))
	do(t, h)(h.OfferResources(m("2026-03-06 10:06"), []string{"修理家电"}, true, nil))

	if got := h.Members(); len(got) != 1 || got[0].Name != "王建国" {
		t.Fatalf("members = %+v", got)
	}
	if m2, ok := h.Member("m2"); !ok || !m2.Left || m2.Occupation != "学生" {
		t.Fatalf("m2 = %+v", m2)
	}
	if h.Class() != domain.ClassSpecial || h.Category() != domain.CategoryTeKun || h.Risk() != domain.RiskRed ||
		h.ResponsibleWorker() != "网格员小王" || h.Community() != "和平社区" || !h.Consent() || !h.Volunteer() {
		t.Fatalf("state: class %s cat %s risk %s worker %s community %s", h.Class(), h.Category(), h.Risk(), h.ResponsibleWorker(), h.Community())
	}
	if n := h.Needs(); len(n) != 1 || !slices.Equal(n[domain.NeedMedical], []string{"康复"}) {
		t.Fatalf("needs = %v", n)
	}
	if h.Version() != 13 {
		t.Fatalf("version = %d", h.Version())
	}
	r, err := domain.Reveal(context.Background(), v, "h1", h.Members()[0].IDNumber)
	if err != nil || r.Value != "110101196105011234" {
		t.Fatalf("reveal: %v %v", r, err)
	}
}

func TestVisitEntryAndClock(t *testing.T) {
	h, pol := registered(t, "h1")
	rec := func(id, occurred, entered string, outcome domain.VisitOutcome) domain.VisitRecorded {
		in := domain.RecordVisit{VisitID: id, Team: []string{"网格员小李", "社工小张"}, OccurredAt: at(t, occurred), Mode: domain.ModeHome, Outcome: outcome}
		if outcome == domain.OutcomeCompleted {
			in = evidence(in)
		}
		evs := do(t, h)(h.RecordVisit(meta(t, "网格员小李", entered), pol, in))
		return evs[0].(domain.VisitRecorded)
	}
	if v := rec("v1", "2026-03-02 09:00", "2026-03-03 08:59", domain.OutcomeCompleted); v.Late || v.PolicyVersion != pol.Version {
		t.Fatalf("within 24 h: %+v", v)
	}
	if v := rec("v2", "2026-03-04 09:00", "2026-03-05 09:01", domain.OutcomeCompleted); !v.Late {
		t.Fatalf("after 24 h: %+v", v)
	}
	c := h.Clocks()
	if len(c) != 3 || c[1].Kind != domain.ClockNeedsUpdate || c[2].Kind != domain.ClockFileRevision || c[0].Kind != domain.ClockVisitDue || !c[0].Start.Equal(at(t, "2026-03-04 09:00")) || c[0].HouseholdClass != domain.ClassKey {
		t.Fatalf("clock = %+v", c)
	}
	rec("v3", "2026-03-20 09:00", "2026-03-20 10:00", domain.OutcomeNobodyHome)
	if c := h.Clocks(); !c[0].Start.Equal(at(t, "2026-03-04 09:00")) {
		t.Fatal("nobody-home visits do not restart the visit clock")
	}

	// Alerts: key household, once a month → March is covered, April is due by its end.
	cal := mustCalendar(t)
	d, ok, err := pol.Deadline(cal, h.Clocks()[0])
	if err != nil || !ok || !d.Due.Equal(at(t, "2026-04-30 23:59").Add(59*time.Second+999999999)) {
		t.Fatalf("deadline %+v %v", d, err)
	}
	sys := domain.Meta{Actor: "deadline-watcher", Role: domain.RoleSystem}
	sys.At = at(t, "2026-04-30 08:00")
	evs, err := h.RecordDeadlineAlert(sys, d, domain.StageBreached, "督导老周")
	fails(t, evs, err, "deadline_not_reached", domain.ErrRule)
	do(t, h)(h.RecordDeadlineAlert(sys, d, domain.StageApproaching, "督导老周"))
	sys.At = at(t, "2026-05-01 00:01")
	evs = do(t, h)(h.RecordDeadlineAlert(sys, d, domain.StageBreached, "督导老周"))
	if a := evs[0].(domain.HouseholdDeadlineBreached); a.Responsible != "网格员小李" || a.Supervisor != "督导老周" || !a.Due.Equal(d.Due) {
		t.Fatalf("alert = %+v", a)
	}
	if c := h.Clocks()[0]; !c.Breached || !c.Approached {
		t.Fatalf("flags not folded: %+v", c)
	}
	if evs, err := h.RecordDeadlineAlert(sys, d, domain.StageBreached, ""); err != nil || evs != nil {
		t.Fatalf("repeat must be a no-op: %v %v", evs, err)
	}
	rec("v4", "2026-05-01 09:00", "2026-05-01 10:00", domain.OutcomeCompleted)
	sys.At = at(t, "2026-05-02 09:00")
	evs, err = h.RecordDeadlineAlert(sys, d, domain.StageBreached, "")
	fails(t, evs, err, "clock_not_running", domain.ErrConflict)
	if c := h.Clocks()[0]; c.Breached || c.Approached {
		t.Fatalf("a restarted clock starts without alerts: %+v", c)
	}
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatal(err)
	}
}
