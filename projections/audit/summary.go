package audit

import (
	"fmt"
	"strings"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// eventLabels name each event type for a person, in English and Chinese.
var eventLabels = map[string][2]string{
	domain.TypeHouseholdRegistered:          {"registered the household", "登记家庭档案"},
	domain.TypeHouseholdMemberAdded:         {"added a member", "添加家庭成员"},
	domain.TypeHouseholdMemberChanged:       {"changed a member", "修改家庭成员"},
	domain.TypeHouseholdMemberLeft:          {"recorded that a member left", "记录成员离开"},
	domain.TypeHouseholdRelocated:           {"recorded a move", "记录搬迁"},
	domain.TypeHouseholdWorkerChanged:       {"changed the responsible worker", "更换责任网格员"},
	domain.TypeHouseholdClassChanged:        {"changed the household class", "调整家庭类别"},
	domain.TypeHouseholdCategoryChanged:     {"changed the assistance category", "调整救助类别"},
	domain.TypeHouseholdRiskChanged:         {"changed the risk level", "调整风险等级"},
	domain.TypeHouseholdNeedsAssessed:       {"assessed the needs", "评估需求"},
	domain.TypeHouseholdResourcesOffered:    {"recorded the resources offered", "记录可提供的资源"},
	domain.TypeHouseholdConsentRecorded:     {"recorded consent", "记录知情同意"},
	domain.TypeHouseholdArchived:            {"archived the file", "归档家庭档案"},
	domain.TypeVisitRecorded:                {"recorded a visit", "录入走访"},
	domain.TypeHouseholdDeadlineApproaching: {"warned that a visit or the file's upkeep is nearly due", "提醒走访或档案维护即将到期"},
	domain.TypeHouseholdDeadlineBreached:    {"recorded that a visit or the file's upkeep is overdue", "记录走访或档案维护逾期"},
	domain.TypeHouseholdDeadlineRescheduled: {"rescheduled the visit deadline", "调整走访期限"},
	domain.TypeHouseholdFestivalVisitDue:    {"set a festival visit due (campaign)", "列入节日走访慰问（设定走访期限）"},
	domain.TypeHouseholdErasureRequested:    {"requested the erasure of personal data", "申请删除个人信息"},
	domain.TypeHouseholdErasureApproved:     {"approved the erasure of personal data", "批准删除个人信息"},
	domain.TypeHouseholdErasureCompleted:    {"erased personal data (keys destroyed)", "删除个人信息（密钥已销毁）"},
	domain.TypeProblemReported:              {"reported a problem", "登记问题"},
	domain.TypeProblemReclassified:          {"reclassified the problem", "重新分类问题"},
	domain.TypeProblemAssigned:              {"assigned the problem", "分派问题"},
	domain.TypeProblemDeadlineExtended:      {"extended the deadline", "延长期限"},
	domain.TypeProblemProgressNoted:         {"noted progress", "记录进展"},
	domain.TypeProblemResolved:              {"resolved the problem", "解决问题"},
	domain.TypeProblemSatisfactionRated:     {"recorded the household's satisfaction", "记录满意度"},
	domain.TypeProblemRevisited:             {"revisited the problem", "回访问题"},
	domain.TypeProblemReopened:              {"reopened the problem", "重新打开问题"},
	domain.TypeProblemClosed:                {"closed the problem", "关闭问题"},
	domain.TypeProblemDeadlineApproaching:   {"warned that a problem deadline is near", "提醒问题期限临近"},
	domain.TypeProblemDeadlineBreached:      {"recorded that a problem deadline passed", "记录问题逾期"},
	domain.TypeProblemDeadlineRescheduled:   {"rescheduled a problem deadline", "调整问题期限"},
	domain.TypeReferralRequested:            {"referred the problem", "发起转介"},
	domain.TypeReferralAccepted:             {"accepted the referral", "受理转介"},
	domain.TypeReferralDeclined:             {"declined the referral", "拒绝转介"},
	domain.TypeReferralStarted:              {"started handling the referral", "开始办理转介"},
	domain.TypeReferralCompleted:            {"completed the referral", "办结转介"},
	domain.TypeReferralCancelled:            {"cancelled the referral", "撤回转介"},
	domain.TypeReferralEscalated:            {"escalated the referral", "上报转介"},
	domain.TypeReferralDeadlineApproaching:  {"warned that a referral deadline is near", "提醒转介期限临近"},
	domain.TypeReferralDeadlineBreached:     {"recorded that a referral deadline passed", "记录转介逾期"},
	domain.TypeReferralDeadlineRescheduled:  {"rescheduled a referral deadline", "调整转介期限"},

	domain.TypeHouseholdCircumstancesChanged: {"changed the household's circumstances", "调整家庭情况"},
	domain.TypeProblemReferred:               {"handed the problem to a receiving organisation", "分流问题至承办单位"},

	// Consent per member and purpose (decision 0112).
	domain.TypeHouseholdMemberConsentRecorded: {"recorded a member's consent for a purpose", "记录成员对某一用途的同意"},
}

// when shows an instant as a person reads it: date and minute in the
// instant's own offset (the community's time, as the command gave it).
func when(t time.Time) string { return t.Format("2006-01-02 15:04 -07:00") }

// summarize describes an event in words a supervisor reads — who did what,
// with the outcome and what it concerned — in English, then " / ", then
// Chinese: "李四 (grid worker) recorded a visit of 2026-12-05 10:00 +08:00,
// at home, team 李四, 志愿者小陈: refused / 李四（网格员）录入走访：…，结果：拒绝走访".
func summarize(typ, actor, role string, ev domain.Event) string {
	l, ok := eventLabels[typ]
	if !ok {
		l = [2]string{"recorded " + typ, "记录事件 " + typ}
	}
	ren, rzh := domain.RoleLabel(role)
	en := fmt.Sprintf("%s (%s) %s", actor, ren, l[0])
	zh := fmt.Sprintf("%s（%s）%s", actor, rzh, l[1])
	switch e := ev.(type) {
	case domain.VisitRecorded:
		oen, ozh := e.Outcome.Label()
		men, mzh := e.Mode.Label()
		team := strings.Join(e.Team, ", ")
		en += fmt.Sprintf(" of %s, %s, team %s: %s", when(e.OccurredAt), men, team, oen)
		zh += fmt.Sprintf("：%s，%s，走访人员 %s，结果：%s", when(e.OccurredAt), mzh, strings.Join(e.Team, "、"), ozh)
		if e.Late {
			en += " (entered late, at " + when(e.RecordedAt) + ")"
			zh += "（逾期录入，录入时间 " + when(e.RecordedAt) + "）"
		}
		if e.NotCounted {
			en += " (this mode does not count for the visit schedule)"
			zh += "（该走访方式不计入走访频次）"
		}
		if e.Ineffective() { // 沟通无效 (decision 0145)
			ren, rzh := e.CommunicationReason.Label()
			en += " (communication ineffective: " + ren + ")"
			zh += "（沟通无效：" + rzh + "）"
		}
		if e.Purpose != "" {
			pen, pzh := e.Purpose.Label()
			en += "; purpose: " + pen
			zh += "；走访目的：" + pzh
		}
		if e.SecondVisitFor != "" {
			en += "; second visit after " + e.SecondVisitFor
			zh += "；为走访 " + e.SecondVisitFor + " 的二次走访"
		}
		if e.SecondVisitRequired {
			en += "; a second visit is required"
			zh += "；须二次走访"
		}
		if ren, rzh := reliefText(e.Relief); ren != "" {
			en += "; relief handed over: " + ren
			zh += "；发放：" + rzh
		}
	case domain.HouseholdClassChanged:
		fen, fzh := e.From.Label()
		ten, tzh := e.To.Label()
		en += fmt.Sprintf(" from %s to %s", fen, ten)
		zh += fmt.Sprintf("：由%s调整为%s", fzh, tzh)
		if e.ClassBy == domain.ClassByRule {
			ren, rzh := domain.ClassRuleLabel(e.Rule)
			en += " by the policy's rule (" + ren + ")"
			zh += "（按策略规则：" + rzh + "）"
		}
	case domain.HouseholdRiskChanged:
		fen, fzh := e.From.Label()
		ten, tzh := e.To.Label()
		en += fmt.Sprintf(" from %s to %s", fen, ten)
		zh += fmt.Sprintf("：由%s调整为%s", fzh, tzh)
	case domain.HouseholdCategoryChanged:
		fen, fzh := e.From.Label()
		ten, tzh := e.To.Label()
		en += fmt.Sprintf(" from %s to %s", orNone(fen, "none"), orNone(ten, "none"))
		zh += fmt.Sprintf("：由%s调整为%s", orNone(fzh, "无"), orNone(tzh, "无"))
	case domain.HouseholdCircumstancesChanged:
		var ens, zhs []string
		for _, c := range e.To {
			cen, czh := c.Label()
			ens, zhs = append(ens, cen), append(zhs, czh)
		}
		en += ": " + orNone(strings.Join(ens, ", "), "none")
		zh += "：" + orNone(strings.Join(zhs, "、"), "无")
	case domain.HouseholdMemberAdded:
		en += " " + e.MemberID
		zh += " " + e.MemberID
	case domain.HouseholdMemberLeft:
		en += " (" + e.MemberID + ")"
		zh += "（" + e.MemberID + "）"
	case domain.HouseholdMemberConsentRecorded:
		pen, pzh := e.Purpose.Label()
		if e.Given {
			en += fmt.Sprintf(": member %s gave consent for %s", e.MemberID, pen)
			zh += fmt.Sprintf("：成员 %s 同意用于%s", e.MemberID, pzh)
		} else {
			en += fmt.Sprintf(": member %s withdrew consent for %s", e.MemberID, pen)
			zh += fmt.Sprintf("：成员 %s 撤回对%s的同意", e.MemberID, pzh)
		}
		if e.Reference != "" {
			en += " (reference " + e.Reference + ")"
			zh += "（编号 " + e.Reference + "）"
		}
	case domain.HouseholdErasureRequested:
		sen, szh := e.Scope.Label()
		ben, bzh := e.LegalBasis.Label()
		en += fmt.Sprintf(" %s: %s", e.RequestID, sen)
		zh += fmt.Sprintf(" %s：%s", e.RequestID, szh)
		if e.MemberID != "" {
			en += " " + e.MemberID
			zh += " " + e.MemberID
		}
		en += fmt.Sprintf(", because %s (reference %s)", ben, e.Reference)
		zh += fmt.Sprintf("，依据：%s（编号 %s）", bzh, e.Reference)
	case domain.HouseholdErasureApproved:
		en += " " + e.RequestID
		zh += " " + e.RequestID
	case domain.HouseholdErasureCompleted:
		sen, szh := e.Scope.Label()
		en += fmt.Sprintf(" %s: %s", e.RequestID, sen)
		zh += fmt.Sprintf(" %s：%s", e.RequestID, szh)
		if e.MemberID != "" {
			en += " " + e.MemberID
			zh += " " + e.MemberID
		}
	case domain.ProblemReferred:
		len_, lzh := e.Level.Label()
		en += fmt.Sprintf(" %s to %s (%s)", e.ReferralID, e.To, len_)
		zh += fmt.Sprintf(" %s 至 %s（%s）", e.ReferralID, e.To, lzh)
	case domain.HouseholdWorkerChanged:
		en += fmt.Sprintf(" from %s to %s", e.From, e.To)
		zh += fmt.Sprintf("：由 %s 更换为 %s", e.From, e.To)
	case domain.ProblemReported:
		en += fmt.Sprintf(" %s: %s", e.Number, e.Description)
		zh += fmt.Sprintf(" %s：%s", e.Number, e.Description)
	case domain.ProblemAssigned:
		en += " to " + e.To
		zh += "给 " + e.To
		if !e.Due.IsZero() {
			en += ", due " + when(e.Due)
			zh += "，期限 " + when(e.Due)
		}
	case domain.ProblemResolved:
		en += ": " + e.Summary
		zh += "：" + e.Summary
	case domain.ProblemSatisfactionRated:
		en += fmt.Sprintf(": %d of 5", e.Score)
		zh += fmt.Sprintf("：%d 分（满分 5 分）", e.Score)
	case domain.ProblemRevisited:
		if e.Held {
			en, zh = en+": the solution held", zh+"：问题未复发"
		} else {
			en, zh = en+": the problem came back", zh+"：问题复发"
		}
	case domain.ProblemClosed:
		if e.Resolved {
			en, zh = en+" as resolved", zh+"（已解决）"
		} else {
			en, zh = en+" unresolved", zh+"（未解决）"
		}
	case domain.ReferralRequested:
		len_, lzh := e.Level.Label()
		en += fmt.Sprintf(" to %s (%s): %s", e.To, len_, e.Request)
		zh += fmt.Sprintf("至 %s（%s）：%s", e.To, lzh, e.Request)
	case domain.ReferralAccepted:
		en += fmt.Sprintf(": %s is responsible, due %s", e.Responsible, when(e.Due))
		zh += fmt.Sprintf("：负责人 %s，期限 %s", e.Responsible, when(e.Due))
	case domain.ReferralCompleted:
		en += ": " + e.Outcome
		zh += "：" + e.Outcome
	case domain.ReferralEscalated:
		len_, lzh := e.Level.Label()
		en += fmt.Sprintf(" to %s (%s)", e.To, len_)
		zh += fmt.Sprintf("至 %s（%s）", e.To, lzh)
	}
	if a, _, ok := alertOf(ev); ok {
		en += ", due " + when(a.Due)
		zh += "，期限 " + when(a.Due)
		if a.Responsible != "" {
			en += ", responsible " + a.Responsible
			zh += "，责任人 " + a.Responsible
		}
	}
	return en + " / " + zh
}

// visitState is how a visit shows in the household's state (field
// "visit.<id>"): its outcome, mode, when it happened, the team and the
// relief handed over, in English, " / ", then Chinese, so the trail's
// changes show a refusal as such, not only a count.
func visitState(v domain.VisitRecorded) string {
	oen, ozh := v.Outcome.Label()
	men, mzh := v.Mode.Label()
	en := oen + ", " + men + ", " + ts(v.OccurredAt) + ", team " + strings.Join(v.Team, ", ")
	zh := ozh + "，" + mzh + "，" + ts(v.OccurredAt) + "，走访人员 " + strings.Join(v.Team, "、")
	if ren, rzh := reliefText(v.Relief); ren != "" {
		en += ", relief " + ren
		zh += "，发放" + rzh
	}
	return en + " / " + zh
}

// reliefText describes relief handed over on a visit: kind, amount in
// yuan or the goods, the recipient and how they acknowledged it.
func reliefText(rs []domain.Relief) (en, zh string) {
	var ens, zhs []string
	for _, r := range rs {
		ken, kzh := r.Kind.Label()
		aen, azh := r.AckMethod.Label()
		what, whatZH := "", ""
		if r.AmountFen > 0 {
			yuan := fmt.Sprintf("%d.%02d", r.AmountFen/100, r.AmountFen%100)
			what, whatZH = " ¥"+yuan, " "+yuan+" 元"
		}
		var items, itemsZH []string
		for _, it := range r.Items {
			items = append(items, fmt.Sprintf("%s × %d%s", it.Name, it.Quantity, unit(it.Unit)))
			itemsZH = append(itemsZH, fmt.Sprintf("%s %d%s", it.Name, it.Quantity, it.Unit))
		}
		if len(items) > 0 {
			what += " (" + strings.Join(items, ", ") + ")"
			whatZH += "（" + strings.Join(itemsZH, "、") + "）"
		}
		ens = append(ens, fmt.Sprintf("%s%s to member %s (%s)", ken, what, r.Recipient, aen))
		zhs = append(zhs, fmt.Sprintf("%s%s，领取人 %s（%s）", kzh, whatZH, r.Recipient, azh))
	}
	return strings.Join(ens, "; "), strings.Join(zhs, "；")
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func unit(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}
