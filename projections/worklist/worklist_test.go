package worklist_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/worklist"
)

// world: the command layer, the watcher and the worklist projection on one
// store; the read models on SQLite or PostgreSQL (DOORSTEP_TEST_READMODELS).
type world struct {
	t   *testing.T
	env *testenv.Env
	svc *command.Service
	w   *deadline.Watcher
	eng *projections.Engine
	rd  *worklist.Reader
}

func newWorld(t *testing.T) *world {
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	w, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, worklist.New(env.Policies, env.Cal))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, env: env, svc: svc, w: w, eng: eng, rd: worklist.NewReader(env.DB, env.Dialect)}
}

func (x *world) at(s string) time.Time {
	v, err := time.ParseInLocation("2006-01-02 15:04", s, x.env.Loc)
	if err != nil {
		x.t.Fatal(err)
	}
	return v
}

func (x *world) cmd(id, actor, when string) command.Cmd {
	return command.Cmd{ID: id, Actor: actor, Role: domain.RoleGridWorker, At: x.at(when)}
}

func (x *world) must(_ command.Result, err error) {
	x.t.Helper()
	if err != nil {
		x.t.Fatal(err)
	}
}

// catchUp fires the alerts due at when and brings the read model up to date.
func (x *world) catchUp(when string) {
	x.t.Helper()
	ctx := context.Background()
	if err := x.w.Sync(ctx); err != nil {
		x.t.Fatal(err)
	}
	if _, err := x.w.Fire(ctx, x.at(when)); err != nil {
		x.t.Fatal(err)
	}
	if _, err := x.eng.CatchUp(ctx, nil); err != nil {
		x.t.Fatal(err)
	}
}

func (x *world) problems(f worklist.Filter) []string {
	x.t.Helper()
	rows, err := x.rd.Problems(context.Background(), f)
	if err != nil {
		x.t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func (x *world) referrals(f worklist.Filter) []worklist.Referral {
	x.t.Helper()
	rows, err := x.rd.Referrals(context.Background(), f)
	if err != nil {
		x.t.Fatal(err)
	}
	return rows
}

func (x *world) seed() {
	ctx := context.Background()
	for _, h := range [][3]string{{"h1", "幸福社区", "第1网格"}, {"h2", "幸福社区", "第2网格"}, {"h3", "和平社区", "第9网格"}} {
		x.must(x.svc.RegisterHousehold(ctx, x.cmd("reg-"+h[0], "网格员小李", "2026-03-02 09:00"), h[0], domain.RegisterHousehold{Address: "幸福路 1 号",
			Community: h[1], Grid: h[2], ResponsibleWorker: "网格员小李", Class: domain.ClassKey, Risk: domain.RiskYellow}))
	}
	report := func(id, hh, who, when string) {
		x.must(x.svc.ReportProblem(ctx, x.cmd("rep-"+id, who, when), command.ReportProblem{ProblemID: id, HouseholdID: hh, Description: "需要帮助",
			Category: domain.ProblemService, HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	}
	report("p1", "h1", "网格员小李", "2026-03-02 10:00")
	report("p2", "h1", "网格员小李", "2026-03-03 10:00")
	report("p3", "h2", "网格员小王", "2026-03-04 10:00")
	report("p4", "h3", "网格员小赵", "2026-03-05 10:00")
	x.must(x.svc.RequestReferral(ctx, x.cmd("ref-1", "网格员小李", "2026-03-03 11:00"), command.RequestReferral{ReferralID: "r1", ProblemID: "p2",
		Level: domain.LevelDepartment, To: "区住建局", Request: "加装扶手"}))
	x.must(x.svc.RequestReferral(ctx, x.cmd("ref-2", "网格员小王", "2026-03-04 11:00"), command.RequestReferral{ReferralID: "r2", ProblemID: "p3",
		Level: domain.LevelDepartment, To: "区民政局", Request: "申请低保"}))
	x.must(x.svc.AcceptReferral(ctx, x.cmd("acc-2", "民政局老陈", "2026-03-05 09:00"), "r2", "民政局老陈", domain.WorkingDays(10), ""))
	x.must(x.svc.NoteProgress(ctx, x.cmd("note-4", "网格员小赵", "2026-03-05 11:00"), "p4", "已联系", domain.FollowPhone))
	x.must(x.svc.ResolveProblem(ctx, x.cmd("res-4", "网格员小赵", "2026-03-06 11:00"), "p4", "已解决", nil))
}

// TestWorklistFilters_001_2_2_2: the worklists of the closed loop (001
// §2.2.2 发现—登记—分流—办理): a worker's open problems, the problems and
// referrals of a department, overdue ones, by creation time, sorted and
// paged; rows follow their household when it moves (decision 0070).
func TestWorklistFilters_001_2_2_2(t *testing.T) {
	x := newWorld(t)
	x.seed()
	// p1's first response (yellow: 3 days) is breached on 6 March; p2 and
	// p3 were referred, which started the work.
	x.catchUp("2026-03-06 12:00")

	active := []string{string(domain.StatusOpen), string(domain.StatusInProgress)}
	for _, tt := range []struct {
		name string
		f    worklist.Filter
		want []string
	}{
		{"my open problems", worklist.Filter{Status: active, Assignee: "网格员小李", Sort: worklist.SortCreated}, []string{"p1", "p2"}},
		{"community, newest first", worklist.Filter{Community: "幸福社区"}, []string{"p3", "p2", "p1"}},
		{"grid", worklist.Filter{Grid: "第2网格"}, []string{"p3"}},
		{"referred to a department", worklist.Filter{Department: "区住建局"}, []string{"p2"}},
		{"breached", worklist.Filter{Stage: "breached"}, []string{"p1"}},
		{"no alert, open", worklist.Filter{Stage: "none", Status: active, Sort: worklist.SortCreated}, []string{"p2", "p3"}},
		{"resolved", worklist.Filter{Status: []string{string(domain.StatusResolved)}}, []string{"p4"}},
		{"created range", worklist.Filter{CreatedFrom: x.at("2026-03-03 00:00"), CreatedTo: x.at("2026-03-05 00:00"), Sort: worklist.SortCreated}, []string{"p2", "p3"}},
		{"page 2 of 1", worklist.Filter{Sort: worklist.SortCreated, Limit: 1, Offset: 1}, []string{"p2"}},
		{"not provisional", worklist.Filter{Provisional: new(false), Community: "和平社区"}, []string{"p4"}},
		{"provisional", worklist.Filter{Provisional: new(true)}, nil},
	} {
		if got := x.problems(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// Sorted by due: p1's response deadline is the only running one.
	if got := x.problems(worklist.Filter{Sort: worklist.SortDue, Status: active}); len(got) != 3 || got[0] != "p1" {
		t.Errorf("by due: %v, want p1 first", got)
	}

	// Referrals awaiting a department, with the acceptance deadline (3
	// working days, 001 §3.1).
	awaiting := x.referrals(worklist.Filter{Department: "区住建局", Status: []string{string(domain.RefRequested)}})
	if len(awaiting) != 1 || awaiting[0].ID != "r1" || awaiting[0].ProblemID != "p2" || awaiting[0].RequestedBy != "网格员小李" ||
		!awaiting[0].Due.Equal(x.at("2026-03-06 23:59").Add(59999999999)) || awaiting[0].Community != "幸福社区" {
		t.Fatalf("awaiting 区住建局: %+v", awaiting)
	}
	if acc := x.referrals(worklist.Filter{Assignee: "民政局老陈"}); len(acc) != 1 || acc[0].Status != string(domain.RefAccepted) || acc[0].Due.IsZero() {
		t.Fatalf("accepted by 民政局老陈: %+v", acc)
	}

	// A move takes the household's rows along.
	x.must(x.svc.Relocate(context.Background(), x.cmd("move", "网格员小李", "2026-03-07 09:00"), "h1", "和平路 2 号", "和平社区", "第9网格", "搬家"))
	x.catchUp("2026-03-07 10:00")
	if got := x.problems(worklist.Filter{Community: "和平社区", Sort: worklist.SortCreated}); !slices.Equal(got, []string{"p1", "p2", "p4"}) {
		t.Errorf("after the move: %v", got)
	}
	if r := x.referrals(worklist.Filter{Grid: "第9网格"}); len(r) != 1 || r[0].ID != "r1" {
		t.Errorf("referral after the move: %+v", r)
	}

	// Return visits due (004 §3.2 解决后回访): p4 until someone other than
	// its resolver visits it and finds it held.
	if got := x.problems(worklist.Filter{ReturnVisitDue: true}); !slices.Equal(got, []string{"p4"}) {
		t.Errorf("return visits due: %v", got)
	}
	x.must(x.svc.RevisitProblem(context.Background(), x.cmd("rv-4", "网格员小赵", "2026-03-08 09:00"), "p4",
		domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Satisfaction: 5}))
	x.catchUp("2026-03-08 10:00")
	if got := x.problems(worklist.Filter{ReturnVisitDue: true}); !slices.Equal(got, []string{"p4"}) {
		t.Errorf("after the resolver's own visit, return visits due: %v", got)
	}
	x.must(x.svc.RevisitProblem(context.Background(), x.cmd("rv-4b", "社工小张", "2026-03-09 09:00"), "p4",
		domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Satisfaction: 5}))
	x.catchUp("2026-03-09 10:00")
	if got := x.problems(worklist.Filter{ReturnVisitDue: true}); len(got) != 0 {
		t.Errorf("after the independent return visit, return visits due: %v", got)
	}

	// Bounds and bad filters.
	for _, f := range []worklist.Filter{{Limit: worklist.MaxLimit + 1}, {Offset: -1}, {Sort: "colour"}, {Stage: "late"}} {
		if _, err := x.rd.Problems(context.Background(), f); !errors.Is(err, worklist.ErrInvalidFilter) {
			t.Errorf("filter %+v: %v, want ErrInvalidFilter", f, err)
		}
	}
}
