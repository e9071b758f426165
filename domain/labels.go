package domain

// Labels: the words a person reads for the durable enumeration values, in
// English and Simplified Chinese. Messages and the audit trail use them so
// that a Chinese text carries no English code word (issue 20).

// label is an English and a Chinese label.
type label struct{ en, zh string }

var roleLabels = map[string]label{
	RoleGridWorker:     {"grid worker", "网格员"},
	RoleSocialWorker:   {"social worker", "社工"},
	RoleSupervisor:     {"supervisor", "督导"},
	RoleAuditor:        {"auditor", "审计员"},
	RoleDepartment:     {"department", "职能部门"},
	RoleIntegrator:     {"integrator", "系统对接方"},
	RoleAdmin:          {"administrator", "管理员"},
	RolePrivacyOfficer: {"privacy officer", "个人信息保护负责人"},
	RoleSystem:         {"system", "系统"},
	"worker":           {"grid worker", "网格员"}, // the token role recorded as RoleGridWorker
}

// RoleLabel returns how a role is named to a person; an unknown role is
// named by itself in both languages.
func RoleLabel(role string) (en, zh string) { return lookup(roleLabels, role) }

var enumLabels = map[string]label{
	// visit outcomes and modes
	string(OutcomeCompleted):  {"completed", "已完成"},
	string(OutcomeRefused):    {"refused", "拒绝走访"},
	string(OutcomeNobodyHome): {"nobody at home", "无人在家"},
	string(ModeHome):          {"at home", "上门"},
	string(ModePhone):         {"by phone", "电话"},
	string(ModeVideo):         {"by video", "视频"},
	string(ModeOnline):        {"online", "线上"},
}

// Label returns how a visit outcome is named to a person.
func (o VisitOutcome) Label() (en, zh string) { return lookup(enumLabels, string(o)) }

// Label returns how a visit mode is named to a person.
func (m VisitMode) Label() (en, zh string) { return lookup(enumLabels, string(m)) }

var problemStatusLabels = map[ProblemStatus]label{
	StatusOpen: {"open", "待处理"}, StatusInProgress: {"in progress", "处理中"}, StatusResolved: {"resolved", "已解决"}, StatusClosed: {"closed", "已关闭"},
}

// Label returns how a problem status is named to a person.
func (s ProblemStatus) Label() (en, zh string) { return lookup(problemStatusLabels, s) }

var referralStatusLabels = map[ReferralStatus]label{
	RefRequested: {"requested", "待受理"}, RefAccepted: {"accepted", "已受理"}, RefDeclined: {"declined", "已拒绝"},
	RefInProgress: {"in progress", "办理中"}, RefCompleted: {"completed", "已办结"}, RefCancelled: {"cancelled", "已撤回"},
}

// Label returns how a referral status is named to a person.
func (s ReferralStatus) Label() (en, zh string) { return lookup(referralStatusLabels, s) }

var levelLabels = map[ReferralLevel]label{
	LevelCommunity: {"community", "社区"}, LevelStreet: {"street office", "街道办"}, LevelDepartment: {"department", "职能部门"},
}

// Label returns how a referral level is named to a person.
func (l ReferralLevel) Label() (en, zh string) { return lookup(levelLabels, l) }

var riskLabels = map[RiskLevel]label{
	RiskRed: {"red (urgent intervention)", "红色（紧急干预）"}, RiskYellow: {"yellow (key tracking)", "黄色（重点跟踪）"},
	RiskBlue: {"blue (periodic intervention)", "蓝色（定期干预）"}, RiskGreen: {"green (routine care)", "绿色（常规关怀）"},
}

// Label returns how a risk level is named to a person.
func (r RiskLevel) Label() (en, zh string) { return lookup(riskLabels, r) }

var erasureLabels = map[string]label{
	string(EraseHousehold): {"the whole household", "整户"}, string(EraseMember): {"one member", "单个成员"},
	string(BasisPurposeAchieved):    {"the purpose is achieved", "处理目的已实现"},
	string(BasisServiceEnded):       {"the service ended", "停止提供服务"},
	string(BasisRetentionExpired):   {"the retention period expired", "保存期限已届满"},
	string(BasisConsentWithdrawn):   {"consent withdrawn", "个人撤回同意"},
	string(BasisUnlawfulProcessing): {"unlawful processing", "违法或违约处理"},
}

// Label returns how an erasure scope is named to a person.
func (s ErasureScope) Label() (en, zh string) { return lookup(erasureLabels, string(s)) }

// Label returns how a legal basis of erasure is named to a person.
func (b LegalBasis) Label() (en, zh string) { return lookup(erasureLabels, string(b)) }

// Label returns how a consent purpose is named to a person.
func (p ConsentPurpose) Label() (en, zh string) {
	switch p {
	case ConsentVisitPreparation:
		return "visit preparation", ConsentPurposeZH(p)
	case ConsentServiceMatching:
		return "service matching", ConsentPurposeZH(p)
	}
	return string(p), string(p)
}

var ackLabels = map[AckMethod]label{
	AckSignature: {"signed", "签字"}, AckThumbprint: {"thumbprint", "按手印"}, AckPhoto: {"photo", "拍照留证"},
}

// Label returns how an acknowledgement of relief is named to a person.
func (a AckMethod) Label() (en, zh string) { return lookup(ackLabels, a) }

var categoryLabels = map[AssistanceCategory]label{
	CategoryTeKun: {"extreme poverty support (te kun)", "特困"}, CategoryDiBao: {"minimum living allowance (di bao)", "低保"},
	CategoryMarginal: {"marginal household", "边缘户"}, CategoryTemporary: {"temporary hardship", "临时困难"},
}

// Label returns how an assistance category is named to a person.
func (c AssistanceCategory) Label() (en, zh string) { return lookup(categoryLabels, c) }

var circumstanceLabels = map[Circumstance]label{
	CircumstanceDisability: {"disability", "残疾人家庭"}, CircumstanceElderlyAlone: {"elderly person living alone", "独居老人"},
	CircumstanceChildInDifficulty: {"child in difficulty", "困境儿童"}, CircumstanceSeriousMental: {"serious mental illness", "严重精神障碍患者家庭"},
	CircumstanceSeriousIllness: {"serious illness", "重病患者家庭"}, CircumstanceLeftBehindChildren: {"left-behind child", "留守儿童"},
}

// Label returns how a circumstance is named to a person.
func (c Circumstance) Label() (en, zh string) { return lookup(circumstanceLabels, c) }

// lookup returns k's labels; a value without one is named by itself in
// both languages (a newer build's value).
func lookup[K ~string](m map[K]label, k K) (en, zh string) {
	if l, ok := m[k]; ok {
		return l.en, l.zh
	}
	return string(k), string(k)
}

var clockLabels = map[ClockKind]label{
	ClockProblemResponse:    {"first response", "首次响应"},
	ClockProblemResolution:  {"resolution", "问题解决"},
	ClockProblemFollowUp:    {"follow-up", "定期跟进"},
	ClockReferralAcceptance: {"referral acceptance", "转介受理"},
	ClockReferralCompletion: {"referral completion", "转介办结"},
	ClockVisitDue:           {"next visit", "下次走访"},
	ClockSecondVisit:        {"second visit", "二次走访"},
	ClockRectification:      {"rectification", "限期整改"},
	ClockNeedsUpdate:        {"needs update", "需求更新"},
	ClockFileRevision:       {"household file revision", "家庭档案修订"},
	ClockFestivalVisit:      {"festival visit", "节日走访"},
}

// Label returns how a clock is named to a person.
func (k ClockKind) Label() (en, zh string) { return lookup(clockLabels, k) }

func kindZH(k ClockKind) string {
	_, zh := k.Label()
	return zh
}

var communicationLabels = map[Communication]label{
	CommunicationEffective:   {"communication effective", "沟通有效"},
	CommunicationIneffective: {"communication ineffective", "沟通无效"},
}

// Label returns how a visit's communication outcome is named to a person.
func (c Communication) Label() (en, zh string) { return lookup(communicationLabels, c) }

var communicationReasonLabels = map[CommunicationReason]label{
	CommReasonLanguage:            {"no common language", "语言不通"},
	CommReasonUnwilling:           {"unwilling to talk or hostile to the visit", "居民不愿交流或有抵触情绪"},
	CommReasonComprehension:       {"could not follow or express themselves", "理解或表达困难"},
	CommReasonNoResponsibleMember: {"nobody who could speak for the household", "未见到能反映情况的家庭成员"},
	CommReasonInterrupted:         {"conversation cut short", "走访被中断"},
	CommReasonOther:               {"other reason", "其他原因"},
}

// Label returns how a reason for ineffective communication is named to a person.
func (r CommunicationReason) Label() (en, zh string) { return lookup(communicationReasonLabels, r) }

var festivalLabels = map[Festival]label{
	FestivalSpring: {"Spring Festival", "春节"}, FestivalMidAutumn: {"Mid-Autumn Festival", "中秋"},
	FestivalDragonBoat: {"Dragon Boat Festival", "端午"}, FestivalDoubleNine: {"Double Ninth Festival", "重阳"},
}

// Label returns how a festival is named to a person.
func (f Festival) Label() (en, zh string) { return lookup(festivalLabels, f) }
