package domain_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// The stories of docs/DOMAIN.md ("Stories to test against") at the aggregate
// level. Each stream records what a store would: version and recorded-at
// (one minute after the command's time).

type stream struct {
	t    *testing.T
	a    domain.Aggregate
	recs []domain.Recorded
}

func newStream(t *testing.T, a domain.Aggregate) *stream { return &stream{t: t, a: a} }

// do applies a successful command's events, recording them at m.At + 1 min.
func (s *stream) do(m domain.Meta) func([]domain.Event, error) []domain.Event {
	return func(evs []domain.Event, err error) []domain.Event {
		s.t.Helper()
		if err != nil {
			s.t.Fatalf("command failed: %v", err)
		}
		for _, e := range evs {
			s.a.Apply(e)
			s.recs = append(s.recs, domain.Recorded{Version: s.a.Version(), RecordedAt: m.At.Add(time.Minute), Event: e})
		}
		return evs
	}
}

func (s *stream) types() []string {
	out := make([]string, len(s.recs))
	for i, r := range s.recs {
		out[i] = r.Event.EventType()
	}
	return out
}

type town struct {
	t   *testing.T
	pol *domain.Policy
	cal domain.WorkingDayCalendar
	v   *testVault
	seq int
}

func newTown(t *testing.T) *town {
	return &town{t: t, pol: mustPolicy(t, domain.PresetDefault), cal: mustCalendar(t), v: newVault()}
}

func (w *town) m(actor, when string) domain.Meta { return meta(w.t, actor, when) }

func (w *town) household(id string, class domain.HouseholdClass, risk domain.RiskLevel, when string) (*domain.Household, *stream) {
	h := domain.NewHousehold(id)
	s := newStream(w.t, h)
	m := w.m("网格员小李", when)
	s.do(m)(h.Register(m, w.pol, domain.RegisterHousehold{Address: "幸福社区 " + id, Community: "幸福社区", Grid: "第3网格",
		ResponsibleWorker: "网格员小李", Class: class, Risk: risk}))
	m.At = m.At.Add(time.Minute)
	s.do(m)(h.RecordConsent(m, true, "走访及救助所需信息", ""))
	return h, s
}

func (w *town) problem(hh string, visit string, desc string, cat domain.ProblemCategory, hc domain.HandlingClass, c domain.Colour, u domain.Urgency, when string) (*domain.Problem, *stream) {
	w.seq++
	p := domain.NewProblem(fmt.Sprintf("%s-p%d", hh, w.seq))
	s := newStream(w.t, p)
	m := w.m("网格员小李", when)
	num := fmt.Sprintf("WT2026%06d", w.seq)
	s.do(m)(p.Report(m, w.pol, domain.ReportProblem{Number: num, HouseholdID: hh, VisitID: visit, Description: desc, Category: cat,
		HandlingClass: hc, Colour: c, Urgency: u}))
	return p, s
}

// 张奶奶, 78, lives alone, children elsewhere: the visit finds loneliness and
// fear of a fall; problems: volunteer visits, an alarm button, more video
// calls with the children (004 §2.2).
func TestStoryZhangNainai(t *testing.T) {
	w := newTown(t)
	h, hs := w.household("zhang", domain.ClassSpecial, domain.RiskYellow, "2026-03-02 09:00")
	m := w.m("网格员小李", "2026-03-02 09:10")
	hs.do(m)(h.AddMember(m, "m1", domain.MemberDetails{Name: "张奶奶", Relation: "本人", BirthDate: "1948-02-01",
		Health: sealed(t, w.v, "zhang", "行动不便，有跌倒史")}))

	alarm, as := w.problem("zhang", "v1", "担心跌倒，需要紧急呼叫按钮", domain.ProblemLivingSecurity, domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-03-03 11:00")
	volunteer, vs := w.problem("zhang", "v1", "孤独，希望志愿者定期探访", domain.ProblemService, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 11:00")
	video, _ := w.problem("zhang", "v1", "希望与子女更多视频通话", domain.ProblemPsychological, domain.HandlingLongTerm, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-03 11:00")

	m = w.m("网格员小李", "2026-03-03 11:00")
	evs := hs.do(m)(h.RecordVisit(m, w.pol, evidence(domain.RecordVisit{VisitID: "v1", Team: []string{"网格员小李", "社工小张"}, OccurredAt: at(t, "2026-03-03 09:30"),
		Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
		Understandings: domain.Understandings{Health: sealed(t, w.v, "zhang", "腿脚无力"), SupportObligations: "子女在外地", HomeSafety: "浴室无扶手", ServiceNeeds: "陪伴、安全"},
		Observations:   "独居，情绪低落", ProblemIDs: []string{alarm.ID(), volunteer.ID(), video.ID()}, CheckIn: &domain.CheckIn{Latitude: 30.27, Longitude: 120.15}})))
	if v := evs[0].(domain.VisitRecorded); v.Late || len(v.ProblemIDs) != 3 {
		t.Fatalf("visit = %+v", v)
	}

	// The alarm button: red and urgent, answered within 24 hours.
	c := alarm.Clocks()[0]
	d, _, _ := w.pol.Deadline(w.cal, c)
	if c.Kind != domain.ClockProblemResponse || !d.Due.Equal(at(t, "2026-03-04 11:00")) {
		t.Fatalf("alarm response due %s", d.Due)
	}
	m = w.m("网格员小李", "2026-03-03 16:00")
	as.do(m)(alarm.Resolve(m, "安装一键呼叫按钮", []domain.LinkedResource{{Kind: domain.ResourceGoods, Description: "一键呼叫按钮", Provider: "民政局"}}))
	m = w.m("网格员小李", "2026-03-10 10:00")
	as.do(m)(alarm.RateSatisfaction(m, 5, "很安心"))
	// Volunteer visits: a long-term plan, followed up monthly.
	m = w.m("社工小张", "2026-03-05 10:00")
	vs.do(m)(volunteer.NoteProgress(m, w.pol, "结对志愿者每周探访两次", domain.FollowHomeVisit))
	fu := volunteer.Clocks()
	if len(fu) != 1 || fu[0].Kind != domain.ClockProblemFollowUp {
		t.Fatalf("volunteer clocks = %+v", fu)
	}
	if d, _, _ := w.pol.Deadline(w.cal, fu[0]); !d.Due.Equal(at(t, "2026-04-05 10:00")) {
		t.Fatalf("follow-up due %s", d.Due)
	}

	// Special household, once a week (001 §2.3.3): this visit covers the week of
	// Mon Mar 2; next week's visit is due by Sunday Mar 15.
	hc := h.Clocks()[0]
	if d, _, _ := w.pol.Deadline(w.cal, hc); !d.Due.Equal(at(t, "2026-03-15 23:59").Add(59*time.Second + 999999999)) {
		t.Fatalf("next visit due %s", d.Due)
	}
	if alarm.Status() != domain.StatusResolved || alarm.Satisfaction() != 5 || volunteer.Status() != domain.StatusInProgress || video.Status() != domain.StatusOpen {
		t.Fatalf("statuses %s %s %s", alarm.Status(), volunteer.Status(), video.Status())
	}
	if want := []string{domain.TypeProblemReported, domain.TypeProblemResolved, domain.TypeProblemSatisfactionRated}; !slices.Equal(as.types(), want) {
		t.Fatalf("alarm events %v", as.types())
	}
}

// 王师傅's family of three, poor through illness: medical assistance, an
// education grant for the child, a public-welfare job (004 §2.2); several
// referrals may run for one problem (000 §4.2).
func TestStoryWangShifu(t *testing.T) {
	w := newTown(t)
	h, hs := w.household("wang", domain.ClassKey, domain.RiskYellow, "2026-03-02 09:00")
	for i, md := range []domain.MemberDetails{
		{Name: "王师傅", Relation: "本人", Health: sealed(t, w.v, "wang", "尿毒症透析"), Income: sealed(t, w.v, "wang", "月收入 800 元")},
		{Name: "王师傅妻", Relation: "配偶", Occupation: "无业"},
		{Name: "王小明", Relation: "子女", BirthDate: "2012-09-01", Occupation: "学生"},
	} {
		m := w.m("网格员小李", "2026-03-02 09:30")
		hs.do(m)(h.AddMember(m, "m"+string(rune('1'+i)), md))
	}
	m := w.m("网格员小李", "2026-03-02 10:00")
	hs.do(m)(h.ChangeCategory(m, w.pol, domain.CategoryDiBao, "因病致贫，符合低保条件"))
	hs.do(m)(h.AssessNeeds(m, map[domain.NeedDomain][]string{domain.NeedMedical: {"医疗救助"}, domain.NeedEducation: {"助学金"}, domain.NeedEmployment: {"公益岗位"}}, ""))

	med, ms := w.problem("wang", "v1", "透析费用负担重", domain.ProblemHealth, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")
	edu, _ := w.problem("wang", "v1", "孩子需要助学金", domain.ProblemPolicy, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")
	job, _ := w.problem("wang", "v1", "妻子需要公益性岗位", domain.ProblemResource, domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-02 11:00")

	var refs []*domain.Referral
	for i, to := range []string{"区医保局", "慈善总会"} {
		r := domain.NewReferral("wang-med-r" + string(rune('1'+i)))
		rs := newStream(t, r)
		m := w.m("网格员小李", "2026-03-02 14:00")
		rs.do(m)(r.Request(m, w.pol, domain.RequestReferral{ProblemID: med.ID(), HouseholdID: "wang", Level: domain.LevelDepartment, To: to, Request: "医疗救助"}))
		m = w.m(to, "2026-03-04 10:00")
		rs.do(m)(r.Accept(m, w.cal, to+"经办人", domain.WorkingDays(10), ""))
		rs.do(m)(r.Start(m, ""))
		m = w.m(to, "2026-03-12 10:00")
		rs.do(m)(r.Complete(m, "已纳入救助", []domain.LinkedResource{{Kind: domain.ResourceMoney, Description: "医疗救助金", AmountCents: 500000}}))
		refs = append(refs, r)
	}
	m = w.m("网格员小李", "2026-03-13 10:00")
	ms.do(m)(med.NoteProgress(m, w.pol, "两项救助均已到位", domain.FollowPhone))
	ms.do(m)(med.Resolve(m, "医保二次报销 + 慈善救助", []domain.LinkedResource{{Kind: domain.ResourceMoney, Description: "医疗救助金", AmountCents: 800000}}))

	for _, r := range refs {
		if r.Status() != domain.RefCompleted || r.ProblemID() != med.ID() {
			t.Fatalf("referral %s: %s", r.ID(), r.Status())
		}
	}
	if h.Category() != domain.CategoryDiBao || len(h.Members()) != 3 || len(h.Needs()) != 3 {
		t.Fatalf("household: %s %d %v", h.Category(), len(h.Members()), h.Needs())
	}
	if med.Status() != domain.StatusResolved || edu.Status() != domain.StatusOpen || job.Status() != domain.StatusOpen {
		t.Fatal("statuses")
	}
	if r, _ := domain.Reveal(context.Background(), w.v, "wang", h.Members()[0].Income); r.Value != "月收入 800 元" {
		t.Fatalf("income = %+v", r)
	}
}

// 刘女士, 42, single mother: five visits before trust, refused at first (the
// refusal is recorded); psychological support for 3 months, a micro-shop, a
// parenting workshop (004 §6.1).
func TestStoryLiuNvshi(t *testing.T) {
	w := newTown(t)
	h, hs := w.household("liu", domain.ClassKey, domain.RiskBlue, "2026-03-02 09:00")
	days := []string{"2026-03-03", "2026-03-10", "2026-03-17", "2026-03-24", "2026-03-31"}
	for i, day := range days {
		outcome := domain.OutcomeRefused
		var problems []string
		if i == len(days)-1 {
			outcome, problems = domain.OutcomeCompleted, []string{"liu-p1", "liu-p2", "liu-p3"}
		}
		m := w.m("社工小张", day+" 18:00")
		in := domain.RecordVisit{VisitID: "v" + string(rune('1'+i)), Team: []string{"社工小张"},
			OccurredAt: at(t, day+" 16:00"), Mode: domain.ModeHome, Outcome: outcome, ProblemIDs: problems, Observations: "第" + string(rune('1'+i)) + "次上门"}
		if outcome == domain.OutcomeCompleted {
			in = evidence(in)
		}
		hs.do(m)(h.RecordVisit(m, w.pol, in))
	}
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

	psy, ps := w.problem("liu", "v5", "情绪压力大，需要心理支持", domain.ProblemPsychological, domain.HandlingLongTerm, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-31 18:00")
	shop, _ := w.problem("liu", "v5", "希望开一家小店", domain.ProblemResource, domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-31 18:00")
	course, _ := w.problem("liu", "v5", "参加亲子教育工作坊", domain.ProblemService, domain.HandlingCoordinated, domain.ColourGreen, domain.UrgencyOrdinary, "2026-03-31 18:00")
	m := w.m("督导老周", "2026-04-01 09:00")
	ps.do(m)(psy.Assign(m, w.cal, domain.AssignProblem{To: "社工小张", Reason: "心理支持由社工承担", TimeLimit: domain.Months(3)}))
	for _, day := range []string{"2026-04-08", "2026-05-06", "2026-06-03", "2026-06-30"} {
		m := w.m("社工小张", day+" 15:00")
		ps.do(m)(psy.NoteProgress(m, w.pol, "心理疏导", domain.FollowHomeVisit))
	}
	m = w.m("社工小张", "2026-06-30 16:00")
	ps.do(m)(psy.Resolve(m, "三个月心理支持结束，情绪稳定", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "心理咨询"}}))
	if psy.Status() != domain.StatusResolved || len(psy.Notes()) != 4 || !psy.Due().Equal(at(t, "2026-07-01 09:00")) {
		t.Fatalf("psy: %s notes %d due %s", psy.Status(), len(psy.Notes()), psy.Due())
	}
	if shop.Status() != domain.StatusOpen || course.Category() != domain.ProblemService {
		t.Fatal("other problems")
	}
}

// 赵大爷, 85, disabled, 6th floor without lift: referral chain community →
// street → housing department; elevator installed after 3 months (004 §6.2).
// Also time travel: the referral as it was at each stage.
func TestStoryZhaoDaye(t *testing.T) {
	w := newTown(t)
	h, hs := w.household("zhao", domain.ClassSpecial, domain.RiskRed, "2026-03-02 09:00")
	m := w.m("网格员小李", "2026-03-02 09:10")
	hs.do(m)(h.AddMember(m, "m1", domain.MemberDetails{Name: "赵大爷", Relation: "本人", BirthDate: "1941-01-15", Disability: sealed(t, w.v, "zhao", "肢体二级")}))
	p, ps := w.problem("zhao", "v1", "住六楼无电梯，无法下楼", domain.ProblemLivingSecurity, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")

	r := domain.NewReferral("zhao-r1")
	rs := newStream(t, r)
	m = w.m("网格员小李", "2026-03-02 14:00")
	rs.do(m)(r.Request(m, w.pol, domain.RequestReferral{ProblemID: p.ID(), HouseholdID: "zhao", Level: domain.LevelCommunity, To: "幸福社区居委会", Request: "协调加装电梯"}))
	// Referring starts the work (001 §2.2.2 分流): the first-response clock stops.
	ps.do(m)(p.NoteReferral(m, r.ID(), domain.LevelCommunity, "幸福社区居委会"))
	if p.Status() != domain.StatusInProgress || len(p.Clocks()) != 0 {
		t.Fatalf("after the referral: %s, clocks %+v", p.Status(), p.Clocks())
	}
	if c := r.Clocks(); len(c) != 1 || c[0].Responsible != "幸福社区居委会" || c[0].Department != "幸福社区居委会" {
		t.Fatalf("the acceptance clock is the receiver's: %+v", c)
	}
	m = w.m("社区书记", "2026-03-04 10:00")
	rs.do(m)(r.Decline(m, "社区无权审批加装电梯"))
	m = w.m("社区书记", "2026-03-04 11:00")
	rs.do(m)(r.Escalate(m, w.pol, domain.LevelStreet, "幸福街道办", "需街道协调"))
	m = w.m("街道督导", "2026-03-09 10:00")
	rs.do(m)(r.Escalate(m, w.pol, domain.LevelDepartment, "区住建局", "加装电梯审批属住建部门"))
	m = w.m("住建局老孙", "2026-03-11 10:00")
	rs.do(m)(r.Accept(m, w.cal, "住建局老孙", domain.Months(3), "纳入老旧小区改造"))
	m = w.m("住建局老孙", "2026-03-16 10:00")
	rs.do(m)(r.Start(m, "施工开始"))
	m = w.m("住建局老孙", "2026-06-10 10:00")
	rs.do(m)(r.Complete(m, "电梯已安装并通过验收", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "加装电梯", Provider: "区住建局"}}))

	m = w.m("网格员小李", "2026-06-11 10:00")
	ps.do(m)(p.NoteProgress(m, w.pol, "电梯投入使用", domain.FollowHomeVisit))
	ps.do(m)(p.Resolve(m, "电梯已安装", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "加装电梯"}}))
	// The loop closes only with the household's voice (001 §2.2.2; 004 §3.2
	// 解决后回访): the worker who resolved it may not close it alone.
	m = w.m("网格员小李", "2026-06-20 10:00")
	if _, err := p.Close(m, w.pol, ""); domain.CodeOf(err) != "return_visit_required" {
		t.Fatalf("closing without a return visit: %v", err)
	}
	m = w.m("社工小张", "2026-06-20 10:00")
	ps.do(m)(p.Revisit(m, w.pol, domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Note: "终于能下楼了", Satisfaction: 5}))
	m = w.m("网格员小李", "2026-06-20 11:00")
	ps.do(m)(p.Close(m, w.pol, ""))

	esc := r.Escalations()
	if r.Status() != domain.RefCompleted || r.Level() != domain.LevelDepartment || r.To() != "区住建局" || len(esc) != 2 ||
		esc[0].FromLevel != domain.LevelCommunity || esc[1].Level != domain.LevelDepartment {
		t.Fatalf("referral: %s %s %s %+v", r.Status(), r.Level(), r.To(), esc)
	}
	acc, _ := r.Acceptance()
	out, _ := r.Outcome()
	if !out.At.Before(acc.Due) || acc.Due.Sub(acc.At) < 89*24*time.Hour {
		t.Fatalf("completed %s, due %s", out.At, acc.Due)
	}
	if want := []string{domain.TypeReferralRequested, domain.TypeReferralDeclined, domain.TypeReferralEscalated, domain.TypeReferralEscalated,
		domain.TypeReferralAccepted, domain.TypeReferralStarted, domain.TypeReferralCompleted}; !slices.Equal(rs.types(), want) {
		t.Fatalf("events %v", rs.types())
	}
	if c, _ := p.Closure(); p.Status() != domain.StatusClosed || !c.Resolved || p.Satisfaction() != 5 {
		t.Fatalf("problem %s", p.Status())
	}

	// Time travel: the referral as an auditor saw it on given dates.
	asOf := func(when string) *domain.Referral {
		x := domain.NewReferral("zhao-r1")
		if err := domain.Fold(x, rs.recs, domain.UntilRecorded(at(t, when))); err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, tt := range []struct {
		when   string
		status domain.ReferralStatus
		level  domain.ReferralLevel
	}{
		{"2026-03-02 14:00", "", ""},
		{"2026-03-03 00:00", domain.RefRequested, domain.LevelCommunity},
		{"2026-03-04 10:30", domain.RefDeclined, domain.LevelCommunity},
		{"2026-03-05 00:00", domain.RefRequested, domain.LevelStreet},
		{"2026-03-10 00:00", domain.RefRequested, domain.LevelDepartment},
		{"2026-04-01 00:00", domain.RefInProgress, domain.LevelDepartment},
		{"2026-07-01 00:00", domain.RefCompleted, domain.LevelDepartment},
	} {
		if x := asOf(tt.when); x.Status() != tt.status || x.Level() != tt.level {
			t.Errorf("as of %s: %q at %q, want %q at %q", tt.when, x.Status(), x.Level(), tt.status, tt.level)
		}
	}
	x := domain.NewReferral("zhao-r1")
	if err := domain.Fold(x, rs.recs, domain.UntilVersion(3)); err != nil || x.Version() != 3 || x.Level() != domain.LevelStreet {
		t.Fatalf("as of version 3: v%d %s %v", x.Version(), x.Level(), err)
	}
	// The rest of the stream continues the fold; a gap is refused.
	if err := domain.Fold(x, rs.recs[3:], domain.AsOf{}); err != nil || x.Status() != domain.RefCompleted {
		t.Fatalf("continue fold: %v", err)
	}
	y := domain.NewReferral("zhao-r1")
	err := domain.Fold(y, append(slices.Clone(rs.recs[:2]), rs.recs[3:]...), domain.AsOf{})
	fails(t, nil, err, "version_gap", domain.ErrConflict)
}

// 陈阿姨, 65, mild cognitive impairment: smoke alarm installed, daily
// door-knock by a neighbour (004 §4.2).
func TestStoryChenAyi(t *testing.T) {
	w := newTown(t)
	h, hs := w.household("chen", domain.ClassSpecial, domain.RiskYellow, "2026-03-02 09:00")
	m := w.m("网格员小李", "2026-03-02 09:10")
	hs.do(m)(h.AddMember(m, "m1", domain.MemberDetails{Name: "陈阿姨", Relation: "本人", Health: sealed(t, w.v, "chen", "轻度认知障碍")}))
	// The neighbour offers to knock every day.
	nb, ns := w.household("chen-neighbour", domain.ClassOrdinary, domain.RiskGreen, "2026-03-02 09:20")
	m = w.m("网格员小李", "2026-03-02 09:30")
	ns.do(m)(nb.OfferResources(m, []string{"每日敲门问候"}, true, nil))

	alarm, as := w.problem("chen", "v1", "厨房无烟雾报警器", domain.ProblemLivingSecurity, domain.HandlingImmediate, domain.ColourRed, domain.UrgencyUrgent, "2026-03-02 11:00")
	knock, ks := w.problem("chen", "v1", "需要每日有人上门问候", domain.ProblemService, domain.HandlingLongTerm, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 11:00")
	m = w.m("网格员小李", "2026-03-02 17:00")
	as.do(m)(alarm.Resolve(m, "已安装烟雾报警器", []domain.LinkedResource{{Kind: domain.ResourceGoods, Description: "烟雾报警器"}}))
	m = w.m("网格员小李", "2026-03-03 09:00")
	ks.do(m)(knock.NoteProgress(m, w.pol, "邻居每日敲门", domain.FollowHomeVisit))
	ks.do(m)(knock.Resolve(m, "邻居结对，每日敲门", []domain.LinkedResource{{Kind: domain.ResourceService, Description: "邻里守望", Provider: "邻居"}}))
	m = w.m("网格员小李", "2026-04-03 09:00")
	ks.do(m)(knock.Revisit(m, w.pol, domain.RevisitProblem{Held: true, Method: domain.FollowHomeVisit, Note: "坚持每日敲门", Satisfaction: 5}))
	// The return visit finds the alarm dead: the problem reopens with it.
	m = w.m("社工小张", "2026-04-10 09:00")
	as.do(m)(alarm.Revisit(m, w.pol, domain.RevisitProblem{Held: false, Method: domain.FollowHomeVisit, Note: "报警器电池耗尽", Satisfaction: 2}))

	if !nb.Volunteer() || nb.Skills()[0] != "每日敲门问候" {
		t.Fatal("neighbour resources")
	}
	if knock.Status() != domain.StatusResolved || len(knock.Revisits()) != 1 || !knock.Revisits()[0].Held {
		t.Fatal("door-knock")
	}
	if alarm.Status() != domain.StatusOpen || alarm.Reopens() != 1 || len(alarm.Clocks()) != 1 {
		t.Fatalf("alarm after recurrence: %s", alarm.Status())
	}
	if r, _ := domain.Reveal(context.Background(), w.v, "chen", h.Members()[0].Health); r.Value != "轻度认知障碍" {
		t.Fatal("health")
	}
	// Erasure: the events stay, the sensitive field reads as erased.
	w.v.erased["chen"] = true
	if r, err := domain.Reveal(context.Background(), w.v, "chen", h.Members()[0].Health); err != nil || !r.Erased {
		t.Fatalf("after erasure: %+v %v", r, err)
	}
	if len(hs.recs) != 3 {
		t.Fatal("events must stay")
	}
}

// The two ledger rows of 000 §5.1.
func TestStoryLedgerRows(t *testing.T) {
	w := newTown(t)
	// "apply for 低保, 张三, 5 working days, phone follow-up, resolved"
	p1, s1 := w.problem("h1", "", "申请低保", domain.ProblemPolicy, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-09-24 10:00")
	m := w.m("督导老周", "2026-09-24 11:00")
	s1.do(m)(p1.Assign(m, w.cal, domain.AssignProblem{To: "张三", Reason: "民政专干", TimeLimit: domain.WorkingDays(5)}))
	m = w.m("张三", "2026-09-25 10:00")
	s1.do(m)(p1.NoteProgress(m, w.pol, "电话告知所需材料", domain.FollowPhone))
	m = w.m("张三", "2026-10-08 10:00")
	s1.do(m)(p1.Resolve(m, "低保申请已受理", []domain.LinkedResource{{Kind: domain.ResourcePolicy, Description: "最低生活保障"}}))
	// Sep 24 + 5 working days: Sep 28, 29, 30, (Oct 1–7 off), Oct 8, 9.
	if p1.Status() != domain.StatusResolved || p1.Assignee() != "张三" || p1.TimeLimit().String() != "5 working_days" ||
		p1.Notes()[0].FollowUp != domain.FollowPhone || !p1.Due().Equal(at(t, "2026-10-09 23:59").Add(59999999999)) {
		t.Fatalf("row 1: %s %s %s %s", p1.Status(), p1.Assignee(), p1.TimeLimit(), p1.Due())
	}
	if want := []string{domain.TypeProblemReported, domain.TypeProblemAssigned, domain.TypeProblemProgressNoted, domain.TypeProblemResolved}; !slices.Equal(s1.types(), want) {
		t.Fatalf("row 1 events %v", s1.types())
	}
	// "psychological support, 李四, 3 sessions, home visits, in progress"
	p2, s2 := w.problem("h2", "", "心理支持", domain.ProblemPsychological, domain.HandlingLongTerm, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 10:00")
	m = w.m("督导老周", "2026-03-02 11:00")
	s2.do(m)(p2.Assign(m, w.cal, domain.AssignProblem{To: "李四", Reason: "社工", Sessions: 3}))
	m = w.m("李四", "2026-03-05 10:00")
	s2.do(m)(p2.NoteProgress(m, w.pol, "第一次上门心理疏导", domain.FollowHomeVisit))
	if p2.Status() != domain.StatusInProgress || p2.Assignee() != "李四" || p2.Sessions() != 3 || !p2.Due().IsZero() ||
		p2.Notes()[0].FollowUp != domain.FollowHomeVisit {
		t.Fatalf("row 2: %s %s %d", p2.Status(), p2.Assignee(), p2.Sessions())
	}
}
