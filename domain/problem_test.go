package domain_test

import (
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

func reported(t *testing.T, id string, h domain.HandlingClass, c domain.Colour, u domain.Urgency) (*domain.Problem, *domain.Policy) {
	t.Helper()
	pol := mustPolicy(t, domain.PresetDefault)
	p := domain.NewProblem(id)
	do(t, p)(p.Report(meta(t, "网格员小李", "2026-03-02 10:00"), pol, domain.ReportProblem{Number: "WT2026000123", HouseholdID: "h1", VisitID: "v1",
		Description: "申请低保", Category: domain.ProblemPolicy, HandlingClass: h, Colour: c, Urgency: u}))
	return p, pol
}

func TestProblemRules(t *testing.T) {
	cal := mustCalendar(t)
	m := func(when string) domain.Meta { return meta(t, "网格员小李", when) }
	resolve := func(p *domain.Problem, _ *domain.Policy) {
		do(t, p)(p.Resolve(m("2026-03-03 10:00"), "已办理", nil))
	}
	tests := []struct {
		name  string
		setup func(p *domain.Problem, pol *domain.Policy)
		run   func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error)
		code  string
		kind  error
	}{
		{"report twice", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Report(m("2026-03-02 11:00"), pol, domain.ReportProblem{Number: "WT2026000124", HouseholdID: "h1", Description: "d", Category: domain.ProblemPolicy,
				HandlingClass: domain.HandlingImmediate, Colour: domain.ColourRed, Urgency: domain.UrgencyUrgent})
		}, "problem_exists", domain.ErrConflict},
		{"progress when resolved", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.NoteProgress(m("2026-03-04 10:00"), pol, "电话回访", domain.FollowPhone)
		}, "problem_not_open", domain.ErrRule},
		{"progress when closed", func(p *domain.Problem, pol *domain.Policy) {
			resolve(p, pol)
			do(t, p)(p.Revisit(meta(t, "社工小张", "2026-03-03 10:30"), pol, domain.RevisitProblem{Held: true, Method: domain.FollowPhone, Satisfaction: 5}))
			do(t, p)(p.Close(m("2026-03-03 11:00"), pol, ""))
		},
			func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
				return p.NoteProgress(m("2026-03-04 10:00"), pol, "电话回访", domain.FollowPhone)
			}, "problem_not_open", domain.ErrRule},
		{"progress without note", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.NoteProgress(m("2026-03-04 10:00"), pol, " ", domain.FollowPhone)
		}, "required", domain.ErrInvalid},
		{"progress bad method", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.NoteProgress(m("2026-03-04 10:00"), pol, "n", "telepathy")
		}, "invalid_follow_up", domain.ErrInvalid},
		{"rate before resolution", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.RateSatisfaction(m("2026-03-04 10:00"), 5, "")
		}, "problem_not_resolved", domain.ErrRule},
		{"rate 0", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.RateSatisfaction(m("2026-03-04 10:00"), 0, "")
		}, "invalid_score", domain.ErrInvalid},
		{"rate 6", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.RateSatisfaction(m("2026-03-04 10:00"), 6, "")
		}, "invalid_score", domain.ErrInvalid},
		{"rate twice", func(p *domain.Problem, pol *domain.Policy) {
			resolve(p, pol)
			do(t, p)(p.RateSatisfaction(m("2026-03-04 10:00"), 4, ""))
		},
			func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
				return p.RateSatisfaction(m("2026-03-04 11:00"), 5, "")
			}, "already_rated", domain.ErrConflict},
		{"reassign without reason", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Assign(m("2026-03-02 11:00"), cal, domain.AssignProblem{To: "社工小张"})
		}, "required", domain.ErrInvalid},
		{"assign unchanged", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Assign(m("2026-03-02 11:00"), cal, domain.AssignProblem{To: "网格员小李"})
		}, "no_change", domain.ErrRule},
		{"time limit twice", func(p *domain.Problem, pol *domain.Policy) {
			do(t, p)(p.Assign(m("2026-03-02 11:00"), cal, domain.AssignProblem{To: "网格员小李", TimeLimit: domain.WorkingDays(5)}))
		}, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Assign(m("2026-03-02 12:00"), cal, domain.AssignProblem{To: "网格员小李", TimeLimit: domain.WorkingDays(10)})
		}, "time_limit_already_set", domain.ErrRule},
		{"extend without limit", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.ExtendDeadline(m("2026-03-03 10:00"), at(t, "2026-04-01 10:00"), "r")
		}, "no_deadline", domain.ErrRule},
		{"extend earlier", func(p *domain.Problem, pol *domain.Policy) {
			do(t, p)(p.Assign(m("2026-03-02 11:00"), cal, domain.AssignProblem{To: "网格员小李", TimeLimit: domain.WorkingDays(5)}))
		}, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.ExtendDeadline(m("2026-03-03 10:00"), at(t, "2026-03-05 10:00"), "r")
		}, "extension_not_later", domain.ErrInvalid},
		{"extend without reason", func(p *domain.Problem, pol *domain.Policy) {
			do(t, p)(p.Assign(m("2026-03-02 11:00"), cal, domain.AssignProblem{To: "网格员小李", TimeLimit: domain.WorkingDays(5)}))
		}, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.ExtendDeadline(m("2026-03-03 10:00"), at(t, "2026-03-20 10:00"), "")
		}, "required", domain.ErrInvalid},
		{"reopen an open problem", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Reopen(m("2026-03-03 10:00"), pol, "复发")
		}, "problem_already_open", domain.ErrRule},
		{"close unresolved without reason", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Close(m("2026-03-03 10:00"), pol, "")
		}, "required", domain.ErrInvalid},
		{"close twice", func(p *domain.Problem, pol *domain.Policy) {
			do(t, p)(p.Close(m("2026-03-03 10:00"), pol, "重复登记"))
		},
			func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
				return p.Close(m("2026-03-03 11:00"), pol, "x")
			},
			"problem_closed", domain.ErrRule},
		{"revisit not held without note", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Revisit(meta(t, "社工小张", "2026-03-10 10:00"), pol, domain.RevisitProblem{Held: false, Method: domain.FollowHomeVisit, Satisfaction: 2})
		}, "required", domain.ErrInvalid},
		// 001 §2.2.2 发现—登记—分流—办理—反馈—评价: the loop closes with the household's voice.
		{"resolve and close by the same worker without a return visit", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Close(m("2026-03-03 10:01"), pol, "")
		}, "return_visit_required", domain.ErrRule},
		{"close after the resolver's own home visit", func(p *domain.Problem, pol *domain.Policy) {
			resolve(p, pol)
			do(t, p)(p.Revisit(m("2026-03-04 10:00"), pol, domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Satisfaction: 5}))
		}, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Close(m("2026-03-04 11:00"), pol, "")
		}, "return_visit_required", domain.ErrRule},
		{"return visit without satisfaction", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Revisit(meta(t, "社工小张", "2026-03-10 10:00"), pol, domain.RevisitProblem{Held: true, Method: domain.FollowPhone})
		}, "invalid_score", domain.ErrInvalid},
		{"return visit by a department", resolve, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			mm := meta(t, "民政局老陈", "2026-03-10 10:00")
			mm.Role = domain.RoleDepartment
			return p.Revisit(mm, pol, domain.RevisitProblem{Held: true, Method: domain.FollowPhone, Satisfaction: 5})
		}, "return_visit_role", domain.ErrRule},
		{"reclassify unchanged", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Reclassify(m("2026-03-03 10:00"), pol, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "r")
		}, "no_change", domain.ErrRule},
		{"resolve with bad resource", nil, func(p *domain.Problem, pol *domain.Policy) ([]domain.Event, error) {
			return p.Resolve(m("2026-03-03 10:00"), "s", []domain.LinkedResource{{Kind: "hugs", Description: "x"}})
		}, "invalid_resources", domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, pol := reported(t, "p1", domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary)
			if tt.setup != nil {
				tt.setup(p, pol)
			}
			v := p.Version()
			evs, err := tt.run(p, pol)
			fails(t, evs, err, tt.code, tt.kind)
			if p.Version() != v {
				t.Fatal("a command changed the aggregate")
			}
		})
	}
}

func TestProblemMessages(t *testing.T) {
	p, pol := reported(t, "p1", domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary)
	do(t, p)(p.Resolve(meta(t, "a", "2026-03-03 10:00"), "已办理", nil))
	_, err := p.NoteProgress(meta(t, "a", "2026-03-04 10:00"), pol, "n", domain.FollowPhone)
	de := err.(*domain.Error)
	if de.Message != "problem WT2026000123 is resolved; reopen it before adding progress" ||
		de.Localized("zh-CN") != "问题 WT2026000123 已解决；请先重新打开再添加进展" || de.Field != "status" {
		t.Fatalf("messages: %q / %q", de.Message, de.MessageZH)
	}
	if de.Error() != "problem_not_open: "+de.Message || de.Localized("en") != de.Message {
		t.Fatalf("Error() = %q", de.Error())
	}
}

func TestProblemNumber(t *testing.T) {
	for _, tt := range []struct {
		number string
		year   int
		code   string
	}{
		{"WT2026000123", 2026, ""},
		{"WT2026999999", 2026, ""},
		{"WT2026000000", 2026, "invalid_number"},
		{"WT2024001", 2024, "invalid_number"},
		{"wt2026000123", 2026, "invalid_number"},
		{"WT20260001a3", 2026, "invalid_number"},
		{"WT2025000123", 2026, "number_year_mismatch"},
	} {
		if got := domain.CodeOf(domain.CheckProblemNumber(tt.number, tt.year)); got != tt.code {
			t.Errorf("%s/%d: code %q, want %q", tt.number, tt.year, got, tt.code)
		}
	}
	// The year is read in meta.At's location: 2026-01-01 01:00 Shanghai is still 2025 in UTC.
	p := domain.NewProblem("p")
	_, err := p.Report(meta(t, "a", "2026-01-01 01:00"), mustPolicy(t, domain.PresetDefault), domain.ReportProblem{Number: "WT2026000001", HouseholdID: "h",
		Description: "d", Category: domain.ProblemService, HandlingClass: domain.HandlingImmediate, Colour: domain.ColourRed, Urgency: domain.UrgencyUrgent})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProblemClocks(t *testing.T) {
	cal := mustCalendar(t)
	p, pol := reported(t, "p1", domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary)
	kinds := func() (out []domain.ClockKind) {
		for _, c := range p.Clocks() {
			out = append(out, c.Kind)
		}
		return out
	}
	if k := kinds(); len(k) != 2 || k[0] != domain.ClockProblemResponse || k[1] != domain.ClockProblemFollowUp {
		t.Fatalf("clocks = %v", k)
	}
	do(t, p)(p.Assign(meta(t, "督导老周", "2026-03-02 11:00"), cal, domain.AssignProblem{To: "社工小张", Reason: "心理支持需社工", TimeLimit: domain.WorkingDays(5)}))
	if p.Assignee() != "社工小张" || p.FoundBy() != "网格员小李" || !p.Due().Equal(at(t, "2026-03-09 23:59").Add(59*time.Second+999999999)) {
		t.Fatalf("assignee %s found by %s due %s", p.Assignee(), p.FoundBy(), p.Due())
	}
	do(t, p)(p.NoteProgress(meta(t, "社工小张", "2026-03-03 15:00"), pol, "首次面谈", domain.FollowHomeVisit))
	if p.Status() != domain.StatusInProgress {
		t.Fatal(p.Status())
	}
	cs := p.Clocks()
	if len(cs) != 2 || cs[0].Kind != domain.ClockProblemResolution || cs[1].Kind != domain.ClockProblemFollowUp ||
		!cs[1].Start.Equal(at(t, "2026-03-03 15:00")) || cs[0].Responsible != "社工小张" {
		t.Fatalf("clocks after progress = %+v", cs)
	}
	// Breach the resolution limit, extend it: the new due is a new clock instance.
	d, _, _ := pol.Deadline(cal, cs[0])
	sys := domain.Meta{Actor: "watcher", Role: domain.RoleSystem, At: at(t, "2026-03-10 08:00")}
	do(t, p)(p.RecordDeadlineAlert(sys, d, domain.StageBreached, "督导老周"))
	if !p.Clocks()[0].Breached {
		t.Fatal("breach not folded")
	}
	do(t, p)(p.ExtendDeadline(meta(t, "督导老周", "2026-03-10 09:00"), at(t, "2026-03-20 18:00"), "等待医院出具证明"))
	if c := p.Clocks()[0]; c.Breached || !c.Due.Equal(at(t, "2026-03-20 18:00")) || len(p.Extensions()) != 1 {
		t.Fatalf("after extension: %+v", c)
	}
	evs, err := p.RecordDeadlineAlert(sys, d, domain.StageBreached, "")
	fails(t, evs, err, "clock_not_running", domain.ErrConflict)

	do(t, p)(p.Resolve(meta(t, "社工小张", "2026-03-18 10:00"), "心理支持完成", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "心理咨询 3 次"}}))
	if p.Clocks() != nil {
		t.Fatal("a resolved problem runs no clock")
	}
	do(t, p)(p.Reopen(meta(t, "网格员小李", "2026-04-02 10:00"), pol, "情绪反复"))
	cs = p.Clocks()
	if p.Status() != domain.StatusOpen || p.Reopens() != 1 || !p.Due().IsZero() || len(cs) != 2 || !cs[0].Start.Equal(at(t, "2026-04-02 10:00")) {
		t.Fatalf("after reopen: %s %+v", p.Status(), cs)
	}
	if _, ok := p.Resolution(); ok {
		t.Fatal("reopen clears the resolution")
	}
}

// Test001_2_2_2_LoopClosesWithTheHouseholdsVoice: 发现—登记—分流—办理—反馈—评价
// (001 §2.2.2) and 解决后回访…收集满意度 (004 §3.2). The worker who resolved a
// problem cannot close it alone; an unsatisfied household reopens it; a
// phone survey by the supervisor's office counts even when the supervisor
// resolved it (a channel the policy allows); then the problem closes.
func Test001_2_2_2_LoopClosesWithTheHouseholdsVoice(t *testing.T) {
	p, pol := reported(t, "p-voice", domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary)
	sup := func(when string) domain.Meta {
		m := meta(t, "督导老周", when)
		m.Role = domain.RoleSupervisor
		return m
	}
	do(t, p)(p.Resolve(meta(t, "网格员小李", "2026-03-03 10:00"), "已办理", nil))
	if !p.AwaitsReturnVisit(pol) {
		t.Fatal("a resolved problem awaits its return visit")
	}
	_, err := p.Close(meta(t, "网格员小李", "2026-03-03 10:01"), pol, "")
	fails(t, nil, err, "return_visit_required", domain.ErrRule)
	// Unsatisfied (2 of 5): the return visit reopens the problem.
	evs := do(t, p)(p.Revisit(meta(t, "社工小张", "2026-03-05 10:00"), pol, domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Satisfaction: 2, Note: "不满意"}))
	if len(evs) != 3 || evs[2].EventType() != domain.TypeProblemReopened || p.Status() != domain.StatusOpen || p.Reopens() != 1 {
		t.Fatalf("unsatisfied return visit: %d events, status %s", len(evs), p.Status())
	}
	if rv := evs[0].(domain.ProblemRevisited); !rv.Independent || rv.Satisfaction != 2 {
		t.Fatalf("revisit %+v", rv)
	}
	// The supervisor resolves it this time and surveys by phone: allowed.
	do(t, p)(p.Resolve(sup("2026-03-10 10:00"), "重新办理", nil))
	do(t, p)(p.Revisit(sup("2026-03-12 10:00"), pol, domain.RevisitProblem{Held: true, Method: domain.FollowPhone, Satisfaction: 4}))
	if p.AwaitsReturnVisit(pol) || p.Satisfaction() != 4 {
		t.Fatalf("after the phone survey: awaits %v, satisfaction %d", p.AwaitsReturnVisit(pol), p.Satisfaction())
	}
	do(t, p)(p.Close(sup("2026-03-12 11:00"), pol, ""))
	if c, _ := p.Closure(); p.Status() != domain.StatusClosed || !c.Resolved {
		t.Fatalf("closed: %s", p.Status())
	}
}
