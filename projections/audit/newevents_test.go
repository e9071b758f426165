package audit

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// TestEveryFileEventIsNamed: every event type a household's trail can hold
// (household, visit, problem and referral streams) is named in words, not
// by the fallback "recorded <type>", in English and Chinese (issue 20).
func TestEveryFileEventIsNamed(t *testing.T) {
	n := 0
	for _, typ := range domain.NewRegistry().Types() {
		cat, _, _ := strings.Cut(typ, ".")
		if cat != "household" && cat != "visit" && cat != "problem" && cat != "referral" {
			continue
		}
		n++
		l, ok := eventLabels[typ]
		if !ok || l[0] == "" || !hasHan(l[1]) {
			t.Errorf("event type %s has no label in English and Chinese: %q", typ, l)
		}
	}
	if n < 40 {
		t.Fatalf("only %d household, problem and referral event types registered", n)
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// latin finds lower-case Latin words (enumeration codes shown raw, English
// words) in a Chinese text.
var latin = regexp.MustCompile(`[a-z][a-z_]{2,}`)

// zhOf returns the Chinese half of a bilingual "English / 中文" text.
func zhOf(t *testing.T, s string) string {
	t.Helper()
	_, zh, ok := strings.Cut(s, " / ")
	if !ok || !hasHan(zh) {
		t.Fatalf("not bilingual: %q", s)
	}
	return zh
}

// TestNewEventsInWords: the events added since the trail's summaries were
// written — a member's consent given and withdrawn, a visit with its
// purpose, relief handed over and a second visit after a refusal, an
// erasure, a problem handed to a receiving organisation, a class and risk
// change — read in words in both languages, and the Chinese half carries
// no English code. A withdrawal also shows in the changes.
func TestNewEventsInWords(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	cases := []struct {
		ev     domain.Event
		en, zh []string
	}{
		{domain.HouseholdMemberConsentRecorded{MemberID: "m1", Purpose: domain.ConsentServiceMatching, Given: false, Reference: "WD-7", At: at},
			[]string{"member m1 withdrew consent for service matching", "WD-7"}, []string{"成员 m1 撤回对服务对接的同意", "WD-7"}},
		{domain.HouseholdMemberConsentRecorded{MemberID: "m1", Purpose: domain.ConsentVisitPreparation, Given: true, At: at},
			[]string{"member m1 gave consent for visit preparation"}, []string{"成员 m1 同意用于走访准备"}},
		{domain.VisitRecorded{VisitID: "v2", Team: []string{"李四"}, OccurredAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
			Purpose: domain.PurposeSecondVisit, SecondVisitFor: "v1",
			Relief: []domain.Relief{{Kind: domain.ReliefCash, AmountFen: 50000, Recipient: "m1", AckMethod: domain.AckSignature},
				{Kind: domain.ReliefGoods, Items: []domain.ReliefItem{{Name: "大米", Quantity: 2, Unit: "袋"}}, Recipient: "m1", AckMethod: domain.AckPhoto}}},
			[]string{"purpose: second visit", "second visit after v1", "cash ¥500.00 to member m1 (signed)", "goods (大米 × 2 袋)"},
			[]string{"走访目的：二次走访", "为走访 v1 的二次走访", "慰问金 500.00 元，领取人 m1（签字）", "慰问物资（大米 2袋），领取人 m1（拍照留证）"}},
		{domain.VisitRecorded{VisitID: "v1", Team: []string{"李四"}, OccurredAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeRefused, SecondVisitRequired: true},
			[]string{"refused", "a second visit is required"}, []string{"拒绝走访", "须二次走访"}},
		{domain.HouseholdErasureRequested{RequestID: "er-1", Scope: domain.EraseMember, MemberID: "m2", LegalBasis: domain.BasisConsentWithdrawn, Reference: "PIPL-3"},
			[]string{"er-1: one member m2, because consent withdrawn (reference PIPL-3)"}, []string{"er-1：单个成员 m2，依据：个人撤回同意（编号 PIPL-3）"}},
		{domain.HouseholdErasureCompleted{RequestID: "er-1", Scope: domain.EraseHousehold},
			[]string{"er-1: the whole household"}, []string{"er-1：整户"}},
		{domain.ProblemReferred{ReferralID: "r1", Level: domain.LevelDepartment, To: "卫健局"},
			[]string{"r1 to 卫健局 (department)"}, []string{"r1 至 卫健局（职能部门）"}},
		{domain.HouseholdClassChanged{From: domain.ClassOrdinary, To: domain.ClassSpecial},
			[]string{"from ordinary to special"}, []string{"由普通调整为特殊"}},
		{domain.HouseholdClassChanged{From: domain.ClassOrdinary, To: domain.ClassKey, ClassBy: domain.ClassByRule, Rule: "category di_bao"},
			[]string{"from ordinary to key by the policy's rule (category minimum living allowance (di bao))"}, []string{"由普通调整为重点（按策略规则：救助类别“低保”）"}},
		{domain.HouseholdCategoryChanged{From: domain.CategoryNone, To: domain.CategoryDiBao},
			[]string{"from none to minimum living allowance (di bao)"}, []string{"由无调整为低保"}},
		{domain.HouseholdCircumstancesChanged{To: []domain.Circumstance{domain.CircumstanceElderlyAlone, domain.CircumstanceDisability}},
			[]string{": elderly person living alone, disability"}, []string{"：独居老人、残疾人家庭"}},
		{domain.HouseholdRiskChanged{From: domain.RiskYellow, To: domain.RiskRed},
			[]string{"from yellow (key tracking) to red (urgent intervention)"}, []string{"由黄色（重点跟踪）调整为红色（紧急干预）"}},
	}
	for _, c := range cases {
		s := summarize(c.ev.EventType(), "李四", domain.RoleGridWorker, c.ev)
		en, _, _ := strings.Cut(s, " / ")
		zh := zhOf(t, s)
		for _, w := range c.en {
			if !strings.Contains(en, w) {
				t.Errorf("%s: English %q lacks %q", c.ev.EventType(), en, w)
			}
		}
		for _, w := range c.zh {
			if !strings.Contains(zh, w) {
				t.Errorf("%s: Chinese %q lacks %q", c.ev.EventType(), zh, w)
			}
		}
		if ws := latin.FindAllString(zh, -1); len(ws) > 0 {
			t.Errorf("%s: Chinese %q carries English %q", c.ev.EventType(), zh, ws)
		}
	}

	// The changes: a withdrawal changes the member's consent for the
	// purpose; a visit shows its outcome, mode and relief in both languages.
	h := domain.NewHousehold("h1")
	h.Apply(domain.HouseholdRegistered{HouseholdID: "h1", Community: "C1", Grid: "G1", Class: domain.ClassOrdinary, Risk: domain.RiskGreen, At: at})
	h.Apply(domain.HouseholdMemberAdded{MemberID: "m1", MemberDetails: domain.MemberDetails{Name: "张奶奶"}, At: at})
	h.Apply(domain.HouseholdMemberConsentRecorded{MemberID: "m1", Purpose: domain.ConsentServiceMatching, Given: true, At: at})
	before := householdState(h)
	h.Apply(domain.HouseholdMemberConsentRecorded{MemberID: "m1", Purpose: domain.ConsentServiceMatching, Given: false, Reference: "WD-7", At: at})
	h.Apply(cases[2].ev)
	ch := diff(before, householdState(h))
	got := map[string]Change{}
	for _, c := range ch {
		got[c.Field] = c
	}
	if c := got["consent.m1.service_matching"]; c.Before != "given / 已同意" || c.After != "withdrawn / 已撤回" {
		t.Errorf("the withdrawal in the changes: %+v", ch)
	}
	v := got["visit.v2"].After
	if !strings.Contains(v, "completed, at home, ") || !strings.Contains(v, "relief cash ¥500.00 to member m1 (signed)") ||
		!strings.Contains(zhOf(t, v), "已完成，上门，") || !strings.Contains(zhOf(t, v), "发放慰问金 500.00 元") {
		t.Errorf("the visit in the changes: %q", v)
	}
	if ws := latin.FindAllString(zhOf(t, v), -1); len(ws) > 0 {
		t.Errorf("the visit's Chinese change %q carries English %q", zhOf(t, v), ws)
	}
}
