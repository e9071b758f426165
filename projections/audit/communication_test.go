package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// A visit whose communication was ineffective (沟通无效, 001 §6.2; decision
// 0145) says so in the audit trail, with the reason named in each language;
// an effective one adds nothing.
func TestSummaryNamesIneffectiveCommunication(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	v := domain.VisitRecorded{VisitID: "v1", Team: []string{"李四"}, OccurredAt: at, RecordedAt: at, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
		Communication: domain.CommunicationIneffective, CommunicationReason: domain.CommReasonLanguage}
	s := summarize(domain.TypeVisitRecorded, "李四", domain.RoleGridWorker, v)
	if !strings.Contains(s, "(communication ineffective: no common language)") || !strings.Contains(s, "（沟通无效：语言不通）") {
		t.Fatalf("summary %q", s)
	}
	v.Communication, v.CommunicationReason = domain.CommunicationEffective, ""
	if s := summarize(domain.TypeVisitRecorded, "李四", domain.RoleGridWorker, v); strings.Contains(s, "沟通") || strings.Contains(s, "communication") {
		t.Fatalf("effective communication summarized as %q", s)
	}
}
