package command_test

import (
	"context"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// The stories of docs/DOMAIN.md ("Stories to test against"), through the command
// layer on a real SQLite store: each asserts the folded state and the
// events stored.

const (
	tReg     = domain.TypeHouseholdRegistered
	tConsent = domain.TypeHouseholdConsentRecorded
)

// 张奶奶, 78, lives alone, children elsewhere: the visit finds loneliness and
// fear of a fall; problems: volunteer visits, an alarm button, more video
// calls with the children (004 §2.2).
func TestStoryZhangNainai(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("zhang", domain.ClassSpecial, domain.RiskYellow, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "zhang-m1", "网格员小李", "2026-03-02 09:10"), "zhang", "m1",
		command.Member{Name: "张奶奶", Relation: "本人", BirthDate: "1948-02-01", Health: "行动不便，有跌倒史"}))

	// The visit is recorded first; the problems found on it cite it
	// (decision 0088).
	vr := ok(t)(e.svc.RecordVisit(ctx, cmd(t, "zhang-v1", "网格员小李", "2026-03-03 11:00"), "zhang", command.Visit{
		VisitID: "v1", Members: []domain.TeamMember{{Person: "网格员小李", Role: domain.TeamGridWorker}, {Person: "社工小张", Role: domain.TeamSocialWorker},
			{Person: "医生王", Role: domain.TeamDoctor}}, OccurredAt: at(t, "2026-03-03 09:30"), Mode: domain.ModeHome,
		Outcome: domain.OutcomeCompleted, Purpose: domain.PurposeRoutine, Health: "腿脚无力", SupportObligations: "子女在外地", HomeSafety: "浴室无扶手",
		ServiceNeeds: "陪伴、安全", Observations: "独居，情绪低落", Covered: []domain.Understanding{domain.UnderstandEconomic},
		NextContact: &domain.NextContact{Person: "社工小张", At: at(t, "2026-03-05 10:00")},
		CheckIn:     &domain.CheckIn{Latitude: 30.27, Longitude: 120.15, At: at(t, "2026-03-03 09:31")}, CheckInPlace: "幸福路12号张奶奶家门口"}))
	if vr.LastVersion != 4 || vr.Events != 1 || vr.LastPosition.IsZero() {
		t.Fatalf("visit result %+v", vr)
	}
	alarm, n1 := e.report("zhang-alarm", "zhang", "v1", "担心跌倒，需要紧急呼叫按钮", domain.ProblemLivingSecurity, domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-03-03 11:00")
	volunteer, n2 := e.report("zhang-volunteer", "zhang", "v1", "孤独，希望志愿者定期探访", domain.ProblemService, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 11:00")
	video, n3 := e.report("zhang-video", "zhang", "v1", "希望与子女更多视频通话", domain.ProblemPsychological, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 11:00")
	if n1 != "WT2026000001" || n2 != "WT2026000002" || n3 != "WT2026000003" {
		t.Fatalf("numbers %s %s %s", n1, n2, n3)
	}
	for _, id := range []string{alarm, volunteer, video} {
		if v := e.problem(id).VisitID(); v != "v1" {
			t.Fatalf("problem %s cites visit %q", id, v)
		}
	}

	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "zhang-alarm-fix", "网格员小李", "2026-03-03 16:00"), alarm, "安装一键呼叫按钮",
		[]domain.LinkedResource{{Kind: domain.ResourceGoods, Description: "一键呼叫按钮", Provider: "民政局"}}))
	ok(t)(e.svc.RateSatisfaction(ctx, cmd(t, "zhang-alarm-rate", "网格员小李", "2026-03-10 10:00"), alarm, 5, "很安心"))
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "zhang-vol-1", "社工小张", "2026-03-05 10:00"), volunteer, "结对志愿者每周探访两次", domain.FollowHomeVisit))

	h := e.household("zhang")
	visits := h.Visits()
	if len(visits) != 1 || visits[0].Late || visits[0].Understandings.Health.IsZero() {
		t.Fatalf("visits %+v", visits)
	}
	if r, _ := domain.Reveal(context.Background(), e.vault, "zhang", visits[0].Understandings.Health); r.Value != "腿脚无力" {
		t.Fatalf("health = %+v", r)
	}
	// The visit as evidence (decision 0120): the team with roles, the five
	// understandings, the next contact, the check-in place sealed.
	if v := visits[0]; len(v.Members) != 3 || v.Members[2].Role != domain.TeamDoctor || len(v.Covered) != 5 || v.NextContact == nil ||
		v.CheckIn.Place.IsZero() || v.Purpose != domain.PurposeRoutine {
		t.Fatalf("evidence %+v", v)
	}
	if r, _ := domain.Reveal(context.Background(), e.vault, "zhang", visits[0].CheckIn.Place); r.Value != "幸福路12号张奶奶家门口" {
		t.Fatalf("check-in place = %+v", r)
	}
	pol := e.svc.Policies().Current()
	// Special household, once a week (001 §2.3.3): the visit covers the week of Mon 2 March; the next week is due by Sunday 15 March.
	if d, _, _ := pol.Deadline(e.svc.Calendar(), h.Clocks()[0]); !d.Due.Equal(at(t, "2026-03-15 23:59").Add(59*time.Second + 999999999)) {
		t.Fatalf("next visit due %s", d.Due)
	}
	a, v, vid := e.problem(alarm), e.problem(volunteer), e.problem(video)
	if a.Status() != domain.StatusResolved || a.Satisfaction() != 5 || v.Status() != domain.StatusInProgress || vid.Status() != domain.StatusOpen {
		t.Fatalf("statuses %s %s %s", a.Status(), v.Status(), vid.Status())
	}
	if fu := v.Clocks(); len(fu) != 1 || fu[0].Kind != domain.ClockProblemFollowUp {
		t.Fatalf("volunteer clocks %+v", fu)
	}
	e.wantTypes(domain.ProblemStream(alarm), domain.TypeProblemReported, domain.TypeProblemResolved, domain.TypeProblemSatisfactionRated)
	e.wantTypes(domain.HouseholdStream("zhang"), tReg, tConsent, domain.TypeHouseholdMemberAdded, domain.TypeVisitRecorded)
	e.wantTypes(command.CounterStream(2026), command.TypeProblemNumberAllocated, command.TypeProblemNumberAllocated, command.TypeProblemNumberAllocated)
}

// 王师傅's family of three, poor through illness: medical assistance, an
// education grant for the child, a public-welfare job (004 §2.2); several
// referrals run for one problem (000 §4.2).
func TestStoryWangShifu(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("wang", domain.ClassKey, domain.RiskYellow, "2026-03-02 09:00")
	for i, m := range []command.Member{
		{Name: "王师傅", Relation: "本人", Health: "尿毒症透析", Income: "月收入 800 元", Phone: "13912345678"},
		{Name: "王师傅妻", Relation: "配偶", Occupation: "无业"},
		{Name: "王小明", Relation: "子女", BirthDate: "2012-09-01", Occupation: "学生"},
	} {
		id := string(rune('1' + i))
		ok(t)(e.svc.AddMember(ctx, cmd(t, "wang-m"+id, "网格员小李", "2026-03-02 09:30"), "wang", "m"+id, m))
	}
	ok(t)(e.svc.ChangeCategory(ctx, cmd(t, "wang-cat", "网格员小李", "2026-03-02 10:00"), "wang", domain.CategoryDiBao, "因病致贫，符合低保条件"))
	ok(t)(e.svc.AssessNeeds(ctx, cmd(t, "wang-needs", "网格员小李", "2026-03-02 10:00"), "wang",
		map[domain.NeedDomain][]string{domain.NeedMedical: {"医疗救助"}, domain.NeedEducation: {"助学金"}, domain.NeedEmployment: {"公益岗位"}}, ""))

	med, _ := e.report("wang-med", "wang", "", "透析费用负担重", domain.ProblemHealth, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")
	edu, _ := e.report("wang-edu", "wang", "", "孩子需要助学金", domain.ProblemPolicy, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")
	job, _ := e.report("wang-job", "wang", "", "妻子需要公益性岗位", domain.ProblemResource, domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-02 11:00")

	var refs []string
	for i, to := range []string{"区医保局", "慈善总会"} {
		n := string(rune('1' + i))
		r := ok(t)(e.svc.RequestReferral(ctx, cmd(t, "wang-ref"+n, "网格员小李", "2026-03-02 14:00"), command.RequestReferral{
			ProblemID: med, Level: domain.LevelDepartment, To: to, Request: "医疗救助"}))
		ok(t)(e.svc.AcceptReferral(ctx, cmd(t, "wang-acc"+n, to, "2026-03-04 10:00"), r.ID, to+"经办人", domain.WorkingDays(10), ""))
		ok(t)(e.svc.StartReferral(ctx, cmd(t, "wang-start"+n, to, "2026-03-04 10:00"), r.ID, ""))
		ok(t)(e.svc.CompleteReferral(ctx, cmd(t, "wang-done"+n, to, "2026-03-12 10:00"), r.ID, "已纳入救助",
			[]domain.LinkedResource{{Kind: domain.ResourceMoney, Description: "医疗救助金", AmountCents: 500000}}))
		refs = append(refs, r.ID)
	}
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "wang-med-note", "网格员小李", "2026-03-13 10:00"), med, "两项救助均已到位", domain.FollowPhone))
	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "wang-med-done", "网格员小李", "2026-03-13 10:00"), med, "医保二次报销 + 慈善救助",
		[]domain.LinkedResource{{Kind: domain.ResourceMoney, Description: "医疗救助金", AmountCents: 800000}}))

	for _, id := range refs {
		r := e.referral(id)
		if r.Status() != domain.RefCompleted || r.ProblemID() != med || r.HouseholdID() != "wang" {
			t.Fatalf("referral %s: %s %s %s", id, r.Status(), r.ProblemID(), r.HouseholdID())
		}
		e.wantTypes(domain.ReferralStream(id), domain.TypeReferralRequested, domain.TypeReferralAccepted, domain.TypeReferralStarted, domain.TypeReferralCompleted)
		for _, ev := range e.stream(domain.ReferralStream(id)) {
			if ev.Metadata.Community != "幸福社区" || ev.Metadata.Grid != "第3网格" {
				t.Fatalf("referral event scope %+v", ev.Metadata)
			}
		}
	}
	h := e.household("wang")
	if h.Category() != domain.CategoryDiBao || len(h.Members()) != 3 || len(h.Needs()) != 3 {
		t.Fatalf("household: %s %d %v", h.Category(), len(h.Members()), h.Needs())
	}
	if e.problem(med).Status() != domain.StatusResolved || e.problem(edu).Status() != domain.StatusOpen || e.problem(job).Status() != domain.StatusOpen {
		t.Fatal("problem statuses")
	}
	if r, _ := domain.Reveal(context.Background(), e.vault, "wang", h.Members()[0].Income); r.Value != "月收入 800 元" {
		t.Fatalf("income = %+v", r)
	}
}

// 刘女士, 42, single mother: five visits before trust, refused at first (the
// refusals are recorded); psychological support for 3 months, a
// micro-shop, a parenting workshop (004 §6.1).
func TestStoryLiuNvshi(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("liu", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	days := []string{"2026-03-03", "2026-03-10", "2026-03-17", "2026-03-24", "2026-03-31"}
	for i, day := range days {
		outcome := domain.OutcomeRefused
		if i == len(days)-1 {
			// The problems found are reported below, citing v5.
			outcome = domain.OutcomeCompleted
		}
		v := command.Visit{VisitID: "v" + string(rune('1'+i)), Team: []string{"社工小张"}, OccurredAt: at(t, day+" 16:00"),
			Mode: domain.ModeHome, Outcome: outcome}
		if outcome == domain.OutcomeCompleted {
			v = evidence(v)
		}
		ok(t)(e.svc.RecordVisit(ctx, cmd(t, "liu-visit-"+day, "社工小张", day+" 18:00"), "liu", v))
	}
	// A refused visit cannot carry findings: the refusal is recorded as such.
	r, err := e.svc.RecordVisit(ctx, cmd(t, "liu-bad", "社工小张", "2026-03-03 18:00"), "liu", command.Visit{
		VisitID: "vx", Team: []string{"社工小张"}, OccurredAt: at(t, "2026-03-03 16:00"), Mode: domain.ModeHome,
		Outcome: domain.OutcomeRefused, HomeSafety: "不详"})
	fails(t, r, err, "visit_not_completed", domain.ErrRule)

	h := e.household("liu")
	visits := h.Visits()
	refused := 0
	for _, v := range visits {
		if v.Outcome == domain.OutcomeRefused {
			refused++
		}
	}
	if len(visits) != 5 || refused != 4 || visits[0].Outcome != domain.OutcomeRefused || !h.LastCompletedVisit().Equal(at(t, "2026-03-31 16:00")) {
		t.Fatalf("visits %d refused %d last %s", len(visits), refused, h.LastCompletedVisit())
	}
	psy, _ := e.report("liu-psy", "liu", "v5", "情绪压力大，需要心理支持", domain.ProblemPsychological, domain.HandlingLongTerm, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-31 18:00")
	shop, _ := e.report("liu-shop", "liu", "v5", "希望开一家小店", domain.ProblemResource, domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-31 18:00")
	course, _ := e.report("liu-course", "liu", "v5", "参加亲子教育工作坊", domain.ProblemService, domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-31 18:00")
	sup := cmd(t, "liu-assign", "督导老周", "2026-04-01 09:00")
	sup.Role = domain.RoleSupervisor
	ok(t)(e.svc.AssignProblem(ctx, sup, psy, domain.AssignProblem{To: "社工小张", Reason: "心理支持由社工承担", TimeLimit: domain.Months(3)}))
	for _, day := range []string{"2026-04-08", "2026-05-06", "2026-06-03", "2026-06-30"} {
		ok(t)(e.svc.NoteProgress(ctx, cmd(t, "liu-psy-"+day, "社工小张", day+" 15:00"), psy, "心理疏导", domain.FollowHomeVisit))
	}
	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "liu-psy-done", "社工小张", "2026-06-30 16:00"), psy, "三个月心理支持结束，情绪稳定",
		[]domain.LinkedResource{{Kind: domain.ResourceService, Description: "心理咨询"}}))

	p := e.problem(psy)
	if p.Status() != domain.StatusResolved || len(p.Notes()) != 4 || p.Assignee() != "社工小张" || !p.Due().Equal(at(t, "2026-07-01 09:00")) {
		t.Fatalf("psy: %s notes %d due %s", p.Status(), len(p.Notes()), p.Due())
	}
	if e.problem(shop).Status() != domain.StatusOpen || e.problem(course).Category() != domain.ProblemService {
		t.Fatal("other problems")
	}
	evs := e.stream(domain.ProblemStream(psy))
	if evs[1].Type != domain.TypeProblemAssigned || evs[1].Metadata.Actor != "督导老周" || evs[1].Metadata.Role != domain.RoleSupervisor {
		t.Fatalf("assignment envelope %+v", evs[1].Metadata)
	}
}

// 赵大爷, 85, disabled, 6th floor without lift: referral chain community →
// street → housing department; elevator installed after 3 months (004
// §6.2). Also time travel through the service's loaders.
func TestStoryZhaoDaye(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("zhao", domain.ClassSpecial, domain.RiskRed, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "zhao-m1", "网格员小李", "2026-03-02 09:10"), "zhao", "m1",
		command.Member{Name: "赵大爷", Relation: "本人", BirthDate: "1941-01-15", Disability: "肢体二级"}))
	p, _ := e.report("zhao-lift", "zhao", "", "住六楼无电梯，无法下楼", domain.ProblemLivingSecurity, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")

	// Each step is recorded when it happens: the store's clock follows.
	step := func(id, actor, when string, f func(command.Cmd) (command.Result, error)) command.Result {
		t.Helper()
		e.clock.Set(at(t, when))
		return ok(t)(f(cmd(t, id, actor, "")))
	}
	ref := step("zhao-ref", "网格员小李", "2026-03-02 14:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.RequestReferral(ctx, c, command.RequestReferral{ProblemID: p, HouseholdID: "zhao", Level: domain.LevelCommunity, To: "幸福社区居委会", Request: "协调加装电梯"})
	}).ID
	step("zhao-decline", "社区书记", "2026-03-04 10:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.DeclineReferral(ctx, c, ref, "社区无权审批加装电梯")
	})
	step("zhao-esc1", "社区书记", "2026-03-04 11:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.EscalateReferral(ctx, c, ref, domain.LevelStreet, "幸福街道办", "需街道协调")
	})
	step("zhao-esc2", "街道督导", "2026-03-09 10:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.EscalateReferral(ctx, c, ref, domain.LevelDepartment, "区住建局", "加装电梯审批属住建部门")
	})
	step("zhao-acc", "住建局老孙", "2026-03-11 10:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.AcceptReferral(ctx, c, ref, "住建局老孙", domain.Months(3), "纳入老旧小区改造")
	})
	step("zhao-start", "住建局老孙", "2026-03-16 10:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.StartReferral(ctx, c, ref, "施工开始")
	})
	step("zhao-done", "住建局老孙", "2026-06-10 10:00", func(c command.Cmd) (command.Result, error) {
		return e.svc.CompleteReferral(ctx, c, ref, "电梯已安装并通过验收", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "加装电梯", Provider: "区住建局"}})
	})
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "zhao-note", "网格员小李", "2026-06-11 10:00"), p, "电梯投入使用", domain.FollowHomeVisit))
	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "zhao-resolve", "网格员小李", "2026-06-11 10:00"), p, "电梯已安装", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "加装电梯"}}))
	// 001 §2.2.2 / 004 §3.2: the resolver cannot close alone; the return
	// visit by someone else records the household's satisfaction.
	cr, err := e.svc.CloseProblem(ctx, cmd(t, "zhao-close-alone", "网格员小李", "2026-06-11 10:01"), p, "")
	fails(t, cr, err, "return_visit_required", domain.ErrRule)
	ok(t)(e.svc.RevisitProblem(ctx, cmd(t, "zhao-revisit", "社工小张", "2026-06-20 10:00"), p,
		domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Note: "终于能下楼了", Satisfaction: 5}))
	ok(t)(e.svc.CloseProblem(ctx, cmd(t, "zhao-close", "网格员小李", "2026-06-20 10:00"), p, ""))

	r := e.referral(ref)
	esc := r.Escalations()
	if r.Status() != domain.RefCompleted || r.Level() != domain.LevelDepartment || r.To() != "区住建局" || len(esc) != 2 || esc[0].FromLevel != domain.LevelCommunity {
		t.Fatalf("referral: %s %s %s %+v", r.Status(), r.Level(), r.To(), esc)
	}
	acc, _ := r.Acceptance()
	out, _ := r.Outcome()
	if !out.At.Before(acc.Due) || acc.Due.Sub(acc.At) < 89*24*time.Hour {
		t.Fatalf("completed %s, due %s", out.At, acc.Due)
	}
	e.wantTypes(domain.ReferralStream(ref), domain.TypeReferralRequested, domain.TypeReferralDeclined, domain.TypeReferralEscalated,
		domain.TypeReferralEscalated, domain.TypeReferralAccepted, domain.TypeReferralStarted, domain.TypeReferralCompleted)
	if c, _ := e.problem(p).Closure(); e.problem(p).Status() != domain.StatusClosed || !c.Resolved {
		t.Fatal("problem not closed after resolution")
	}

	// Time travel: the referral as an auditor saw it on given dates.
	for _, tt := range []struct {
		when   string
		status domain.ReferralStatus
		level  domain.ReferralLevel
	}{
		{"2026-03-02 13:59", "", ""},
		{"2026-03-03 00:00", domain.RefRequested, domain.LevelCommunity},
		{"2026-03-04 10:30", domain.RefDeclined, domain.LevelCommunity},
		{"2026-03-05 00:00", domain.RefRequested, domain.LevelStreet},
		{"2026-03-10 00:00", domain.RefRequested, domain.LevelDepartment},
		{"2026-04-01 00:00", domain.RefInProgress, domain.LevelDepartment},
		{"2026-07-01 00:00", domain.RefCompleted, domain.LevelDepartment},
	} {
		x, err := e.svc.Referral(ctx, ref, domain.UntilRecorded(at(t, tt.when)))
		if err != nil || x.Status() != tt.status || x.Level() != tt.level {
			t.Errorf("as of %s: %q at %q, want %q at %q (%v)", tt.when, x.Status(), x.Level(), tt.status, tt.level, err)
		}
	}
	x, err := e.svc.Referral(ctx, ref, domain.UntilVersion(3))
	if err != nil || x.Version() != 3 || x.Level() != domain.LevelStreet || x.Status() != domain.RefRequested {
		t.Fatalf("as of version 3: v%d %s %v", x.Version(), x.Level(), err)
	}
}

// 陈阿姨, 65, mild cognitive impairment: smoke alarm installed, daily
// door-knock by a neighbour (004 §4.2); the alarm fails later and the
// problem is reopened.
func TestStoryChenAyi(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("chen", domain.ClassSpecial, domain.RiskYellow, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "chen-m1", "网格员小李", "2026-03-02 09:10"), "chen", "m1", command.Member{Name: "陈阿姨", Relation: "本人", Health: "轻度认知障碍"}))
	e.register("chen-nb", domain.ClassOrdinary, domain.RiskGreen, "2026-03-02 09:20")
	ok(t)(e.svc.OfferResources(ctx, cmd(t, "chen-nb-offer", "网格员小李", "2026-03-02 09:30"), "chen-nb", []string{"每日敲门问候"}, true, nil))

	alarm, _ := e.report("chen-alarm", "chen", "", "厨房无烟雾报警器", domain.ProblemLivingSecurity, domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-03-02 11:00")
	knock, _ := e.report("chen-knock", "chen", "", "需要每日有人上门问候", domain.ProblemService, domain.HandlingLongTerm, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")
	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "chen-alarm-fix", "网格员小李", "2026-03-02 17:00"), alarm, "已安装烟雾报警器", []domain.LinkedResource{{Kind: domain.ResourceGoods, Description: "烟雾报警器"}}))
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "chen-knock-1", "网格员小李", "2026-03-03 09:00"), knock, "邻居每日敲门", domain.FollowHomeVisit))
	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "chen-knock-done", "网格员小李", "2026-03-03 09:00"), knock, "邻居结对，每日敲门", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "邻里守望", Provider: "邻居"}}))
	ok(t)(e.svc.RevisitProblem(ctx, cmd(t, "chen-knock-rv", "网格员小李", "2026-04-03 09:00"), knock,
		domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Note: "坚持每日敲门", Satisfaction: 5}))
	// Progress on a resolved problem is refused until it is reopened.
	r, err := e.svc.NoteProgress(ctx, cmd(t, "chen-alarm-early", "网格员小李", "2026-04-10 08:00"), alarm, "更换电池", domain.FollowHomeVisit)
	fails(t, r, err, "problem_not_open", domain.ErrRule)
	// The return visit finds the alarm dead: it reopens the problem.
	ok(t)(e.svc.RevisitProblem(ctx, cmd(t, "chen-alarm-rv", "社工小张", "2026-04-10 09:00"), alarm,
		domain.RevisitProblem{Held: false, Method: domain.FollowHomeVisit, Note: "报警器电池耗尽", Satisfaction: 2}))

	if nb := e.household("chen-nb"); !nb.Volunteer() || nb.Skills()[0] != "每日敲门问候" {
		t.Fatal("neighbour resources")
	}
	if k := e.problem(knock); k.Status() != domain.StatusResolved || len(k.Revisits()) != 1 || !k.Revisits()[0].Held {
		t.Fatal("door-knock")
	}
	a := e.problem(alarm)
	if a.Status() != domain.StatusOpen || a.Reopens() != 1 || len(a.Clocks()) != 1 {
		t.Fatalf("alarm after recurrence: %s", a.Status())
	}
	e.wantTypes(domain.ProblemStream(alarm), domain.TypeProblemReported, domain.TypeProblemResolved, domain.TypeProblemRevisited,
		domain.TypeProblemSatisfactionRated, domain.TypeProblemReopened)
}

// The two ledger rows of 000 §5.1.
func TestStoryLedgerRows(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.register("h1", domain.ClassKey, domain.RiskYellow, "2026-09-01 09:00")
	e.register("h2", domain.ClassKey, domain.RiskYellow, "2026-03-01 09:00")
	sup := func(id, when string) command.Cmd {
		c := cmd(t, id, "督导老周", when)
		c.Role = domain.RoleSupervisor
		return c
	}
	// "apply for 低保, 张三, 5 working days, phone follow-up, resolved"
	p1, _ := e.report("row1", "h1", "", "申请低保", domain.ProblemPolicy, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-09-24 10:00")
	ok(t)(e.svc.AssignProblem(ctx, sup("row1-assign", "2026-09-24 11:00"), p1, domain.AssignProblem{To: "张三", Reason: "民政专干", TimeLimit: domain.WorkingDays(5)}))
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "row1-note", "张三", "2026-09-25 10:00"), p1, "电话告知所需材料", domain.FollowPhone))
	ok(t)(e.svc.ResolveProblem(ctx, cmd(t, "row1-done", "张三", "2026-10-08 10:00"), p1, "低保申请已受理", []domain.LinkedResource{{Kind: domain.ResourcePolicy, Description: "最低生活保障"}}))
	r1 := e.problem(p1)
	// Sep 24 + 5 working days: Sep 25, 28, 29, 30 (Oct 1–7 off), Oct 8 … ends Oct 9 (see domain stories).
	if r1.Status() != domain.StatusResolved || r1.Assignee() != "张三" || r1.TimeLimit().String() != "5 working_days" ||
		r1.Notes()[0].FollowUp != domain.FollowPhone || !r1.Due().Equal(at(t, "2026-10-09 23:59").Add(59999999999)) {
		t.Fatalf("row 1: %s %s %s %s", r1.Status(), r1.Assignee(), r1.TimeLimit(), r1.Due())
	}
	e.wantTypes(domain.ProblemStream(p1), domain.TypeProblemReported, domain.TypeProblemAssigned, domain.TypeProblemProgressNoted, domain.TypeProblemResolved)
	// "psychological support, 李四, 3 sessions, home visits, in progress"
	p2, _ := e.report("row2", "h2", "", "心理支持", domain.ProblemPsychological, domain.HandlingLongTerm, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 10:00")
	ok(t)(e.svc.AssignProblem(ctx, sup("row2-assign", "2026-03-02 11:00"), p2, domain.AssignProblem{To: "李四", Reason: "社工", Sessions: 3}))
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "row2-note", "李四", "2026-03-05 10:00"), p2, "第一次上门心理疏导", domain.FollowHomeVisit))
	r2 := e.problem(p2)
	if r2.Status() != domain.StatusInProgress || r2.Assignee() != "李四" || r2.Sessions() != 3 || !r2.Due().IsZero() || r2.Notes()[0].FollowUp != domain.FollowHomeVisit {
		t.Fatalf("row 2: %s %s %d", r2.Status(), r2.Assignee(), r2.Sessions())
	}
}
