package deadline_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
)

// referralWorld is a command service and a watcher on one store, with a
// helper that records a command at a given local time.
type referralWorld struct {
	t   *testing.T
	env *testenv.Env
	svc *command.Service
	w   *deadline.Watcher
}

func newReferralWorld(t *testing.T) *referralWorld {
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	w, err := deadline.New(deadline.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal, Commands: svc})
	if err != nil {
		t.Fatal(err)
	}
	return &referralWorld{t: t, env: env, svc: svc, w: w}
}

func (x *referralWorld) at(s string) time.Time {
	x.t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, x.env.Cal.Location())
	if err != nil {
		x.t.Fatal(err)
	}
	return v
}

func (x *referralWorld) cmd(id, actor, role, when string) command.Cmd {
	return command.Cmd{ID: id, Actor: actor, Role: role, At: x.at(when)}
}

func (x *referralWorld) must(_ command.Result, err error) {
	x.t.Helper()
	if err != nil {
		x.t.Fatal(err)
	}
}

// fire lets the watcher record every alert due up to when.
func (x *referralWorld) fire(when string) {
	x.t.Helper()
	if err := x.w.Sync(context.Background()); err != nil {
		x.t.Fatal(err)
	}
	if _, err := x.w.Fire(context.Background(), x.at(when)); err != nil {
		x.t.Fatal(err)
	}
}

// alertsOn decodes the alerts recorded on a stream.
func (x *referralWorld) alertsOn(stream string) (out []struct {
	Type string
	domain.DeadlineAlert
}) {
	for _, ev := range streamTypes(x.t, x.env, stream) {
		if ev.Metadata.Role != domain.RoleSystem {
			continue
		}
		var a domain.DeadlineAlert
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			x.t.Fatal(err)
		}
		out = append(out, struct {
			Type string
			domain.DeadlineAlert
		}{ev.Type, a})
	}
	return out
}

// Test004_6_2_ZhaoDayeDoesNotBreach: 赵大爷 (004 §6.2), referred by the grid
// worker three hours after the problem was reported, then declined by the
// community, escalated to the street and to the housing department, which
// accepts and installs the lift within its three months. Referring starts
// the work (001 §2.2.2 分流): the problem's first-response clock stops at
// the referral, so nothing in the story breaches, although no progress note
// is written before the lift is in use.
func Test004_6_2_ZhaoDayeDoesNotBreach(t *testing.T) {
	ctx := context.Background()
	x := newReferralWorld(t)
	worker, sup, dept := domain.RoleGridWorker, domain.RoleSupervisor, domain.RoleDepartment
	x.must(x.svc.RegisterHousehold(ctx, x.cmd("zhao-reg", "网格员小李", worker, "2026-03-02 09:00"), "zhao", domain.RegisterHousehold{
		Address: "光明楼 6 楼", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李", Class: domain.ClassSpecial, Risk: domain.RiskRed}))
	x.must(x.svc.ReportProblem(ctx, x.cmd("zhao-rep", "网格员小李", worker, "2026-03-02 11:00"), command.ReportProblem{ProblemID: "zhao-lift",
		HouseholdID: "zhao", Description: "住六楼无电梯，无法下楼", Category: domain.ProblemLivingSecurity,
		HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	x.fire("2026-03-02 13:00")
	x.must(x.svc.RequestReferral(ctx, x.cmd("zhao-ref", "网格员小李", worker, "2026-03-02 14:00"), command.RequestReferral{ReferralID: "zhao-r1",
		ProblemID: "zhao-lift", Level: domain.LevelCommunity, To: "幸福社区居委会", Request: "协调加装电梯"}))
	if p, err := x.svc.Problem(ctx, "zhao-lift", domain.AsOf{}); err != nil || p.Status() != domain.StatusInProgress || len(p.Referrals()) != 1 {
		t.Fatalf("after the referral the problem is %s with %d referrals (%v); want in_progress: referring starts the work", p.Status(), len(p.Referrals()), err)
	}
	x.fire("2026-03-04 09:00")
	x.must(x.svc.DeclineReferral(ctx, x.cmd("zhao-decline", "社区书记", dept, "2026-03-04 10:00"), "zhao-r1", "社区无权审批加装电梯"))
	x.must(x.svc.EscalateReferral(ctx, x.cmd("zhao-esc1", "社区书记", sup, "2026-03-04 11:00"), "zhao-r1", domain.LevelStreet, "幸福街道办", "需街道协调"))
	x.fire("2026-03-06 12:00") // past the 3 days of a yellow problem's first response
	x.must(x.svc.EscalateReferral(ctx, x.cmd("zhao-esc2", "街道督导", sup, "2026-03-09 10:00"), "zhao-r1", domain.LevelDepartment, "区住建局", "加装电梯审批属住建部门"))
	x.fire("2026-03-10 12:00")
	x.must(x.svc.AcceptReferral(ctx, x.cmd("zhao-acc", "住建局老孙", dept, "2026-03-11 10:00"), "zhao-r1", "住建局老孙", domain.Months(3), "纳入老旧小区改造"))
	x.must(x.svc.StartReferral(ctx, x.cmd("zhao-start", "住建局老孙", dept, "2026-03-16 10:00"), "zhao-r1", "施工开始"))
	x.fire("2026-06-01 12:00")
	x.must(x.svc.CompleteReferral(ctx, x.cmd("zhao-done", "住建局老孙", dept, "2026-06-10 10:00"), "zhao-r1", "电梯已安装并通过验收", nil))
	x.must(x.svc.NoteProgress(ctx, x.cmd("zhao-note", "网格员小李", worker, "2026-06-11 10:00"), "zhao-lift", "电梯投入使用", domain.FollowHomeVisit))
	x.fire("2026-07-01 12:00")

	for _, s := range []string{domain.ProblemStream("zhao-lift"), domain.ReferralStream("zhao-r1")} {
		for _, a := range x.alertsOn(s) {
			if a.Type == domain.TypeProblemDeadlineBreached || a.Type == domain.TypeReferralDeadlineBreached {
				t.Errorf("%s: %s breached (due %s): the story must not breach", s, a.Kind, a.Due)
			}
		}
	}
	types := []string{}
	for _, ev := range streamTypes(t, x.env, domain.ProblemStream("zhao-lift")) {
		types = append(types, ev.Type)
	}
	if len(types) < 2 || types[1] != domain.TypeProblemReferred {
		t.Fatalf("problem events %v: want problem.referred right after the report", types)
	}
}

// Test001_3_1_LateAcceptanceNamesTheDepartment: the receiving department
// must settle responsibility and a time limit within 3 working days (001
// §3.1). When it does not, the breach is the department's: the alert names
// the department as responsible and the department's supervisor recorded
// in the log, not the worker who referred the problem nor the community's
// supervisor. The problem's own first response was met by the referral.
func Test001_3_1_LateAcceptanceNamesTheDepartment(t *testing.T) {
	ctx := context.Background()
	x := newReferralWorld(t)
	worker := domain.RoleGridWorker
	admin := func(id string) command.Cmd { return x.cmd(id, "admin", domain.RoleAdmin, "2026-03-01 09:00") }
	x.must(x.svc.AssignCommunitySupervisor(ctx, admin("sup-c"), "幸福社区", "王书记", ""))
	x.must(x.svc.AssignDepartmentSupervisor(ctx, admin("sup-d"), "区住建局", "住建局张科长", "分管转介"))
	if _, err := x.svc.AssignDepartmentSupervisor(ctx, admin("sup-d-again"), "区住建局", "住建局张科长", ""); !isCode(err, "no_change") {
		t.Fatalf("assigning the department's supervisor again: %v", err)
	}
	x.must(x.svc.RegisterHousehold(ctx, x.cmd("reg", "网格员小李", worker, "2026-03-02 09:00"), "h1", domain.RegisterHousehold{
		Address: "光明楼 6 楼", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李", Class: domain.ClassKey, Risk: domain.RiskYellow}))
	x.must(x.svc.ReportProblem(ctx, x.cmd("rep", "网格员小李", worker, "2026-03-02 11:00"), command.ReportProblem{ProblemID: "p1",
		HouseholdID: "h1", Description: "无电梯", Category: domain.ProblemLivingSecurity,
		HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary}))
	x.must(x.svc.RequestReferral(ctx, x.cmd("ref", "网格员小李", worker, "2026-03-02 14:00"), command.RequestReferral{ReferralID: "r1",
		ProblemID: "p1", Level: domain.LevelDepartment, To: "区住建局", Request: "加装电梯"}))
	// 3 working days after Monday 2 March: due at the end of Thursday 5 March.
	x.fire("2026-03-06 09:00")

	got := x.alertsOn(domain.ReferralStream("r1"))
	var breach *domain.DeadlineAlert
	for i := range got {
		if got[i].Type == domain.TypeReferralDeadlineBreached {
			breach = &got[i].DeadlineAlert
		}
	}
	if breach == nil {
		t.Fatalf("no acceptance breach on the referral: %+v", got)
	}
	if breach.Kind != domain.ClockReferralAcceptance || breach.Department != "区住建局" || breach.Responsible != "区住建局" || breach.Supervisor != "住建局张科长" {
		t.Fatalf("breach = %+v; want the department 区住建局 responsible and its supervisor 住建局张科长", *breach)
	}
	for _, a := range x.alertsOn(domain.ProblemStream("p1")) {
		if a.Kind == domain.ClockProblemResponse {
			t.Errorf("the problem's first response alerted (%s) although the referral started the work", a.Type)
		}
	}
}
