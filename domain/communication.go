package domain

import "fmt"

// Communication on a visit (decision 0145). Seed 001 §6.2 judges the risk
// of 沟通不畅 by two figures: 居民拒绝配合率超过20% (a refused visit) and
// 沟通无效案例占比超过15% — a visit that reached the household but whose
// communication did not work. A completed visit may say so: communication
// "ineffective" with the reason; "effective", or nothing, is a visit whose
// communication worked (the worker states the exception, as a refusal is
// stated).

// Communication says whether a completed visit's communication with the
// household was effective. Durable.
type Communication string

const (
	CommunicationEffective   Communication = "effective"   // 沟通有效
	CommunicationIneffective Communication = "ineffective" // 沟通无效 (001 §6.2)
)

// Communications lists the values of Communication.
func Communications() []Communication {
	return []Communication{CommunicationEffective, CommunicationIneffective}
}

// CommunicationReason is why a visit's communication was ineffective: a
// closed list, so that the record says nothing personal about the household
// in free text (the visit's summary is where words go). Durable.
type CommunicationReason string

const (
	// CommReasonLanguage: no common language (dialect, foreign language) — 语言不通.
	CommReasonLanguage CommunicationReason = "language"
	// CommReasonUnwilling: present but unwilling to talk, or hostile to the
	// visit (001 §6.1 抵触情绪) — 居民不愿交流或有抵触情绪.
	CommReasonUnwilling CommunicationReason = "unwilling"
	// CommReasonComprehension: the person met could not follow or express
	// themselves — 理解或表达困难.
	CommReasonComprehension CommunicationReason = "comprehension"
	// CommReasonNoResponsibleMember: only someone who cannot speak for the
	// household was met (a child, a carer, a tenant) — 未见到能反映情况的家庭成员.
	CommReasonNoResponsibleMember CommunicationReason = "no_responsible_member"
	// CommReasonInterrupted: the conversation was cut short — 走访被中断.
	CommReasonInterrupted CommunicationReason = "interrupted"
	// CommReasonOther: any other reason — 其他.
	CommReasonOther CommunicationReason = "other"
)

// CommunicationReasons lists the reasons.
func CommunicationReasons() []CommunicationReason {
	return []CommunicationReason{CommReasonLanguage, CommReasonUnwilling, CommReasonComprehension, CommReasonNoResponsibleMember,
		CommReasonInterrupted, CommReasonOther}
}

// checkCommunication checks a visit's communication and its reason: only a
// completed visit records it (a refusal or nobody at home had no
// conversation to judge), a reason belongs to "ineffective" and is required
// by it.
func checkCommunication(in RecordVisit) error {
	if in.Communication == "" && in.CommunicationReason == "" {
		return nil
	}
	if in.Communication != "" && !oneOf(in.Communication, Communications()...) {
		return badValue("communication", "communication outcome", "沟通情况", in.Communication, Communications()...)
	}
	if in.CommunicationReason != "" && !oneOf(in.CommunicationReason, CommunicationReasons()...) {
		return badValue("communication_reason", "reason for ineffective communication", "沟通无效原因", in.CommunicationReason, CommunicationReasons()...)
	}
	if in.Outcome != OutcomeCompleted {
		oen, ozh := in.Outcome.Label()
		return newError(ErrRule, "visit_not_completed", "communication",
			fmt.Sprintf("a visit whose outcome is %s had no conversation to judge; record communication on a completed visit only", oen),
			fmt.Sprintf("走访结果为“%s”，未与居民交谈；只有已完成的走访才能记录沟通情况", ozh))
	}
	switch {
	case in.Communication == CommunicationIneffective && in.CommunicationReason == "":
		return required("communication_reason", "the reason communication was ineffective", "沟通无效的原因")
	case in.Communication != CommunicationIneffective && in.CommunicationReason != "":
		return newError(ErrInvalid, "communication_reason_unexpected", "communication_reason",
			"a reason is recorded only when communication was ineffective; set communication to ineffective or leave the reason out",
			"只有沟通无效时才记录原因；请将沟通情况设为“沟通无效”，或不填原因")
	}
	return nil
}

// Ineffective reports whether the visit recorded its communication as
// ineffective (沟通无效).
func (e VisitRecorded) Ineffective() bool {
	return e.Outcome == OutcomeCompleted && e.Communication == CommunicationIneffective
}
