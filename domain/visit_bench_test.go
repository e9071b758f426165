package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// BenchmarkDecideRecordVisit: the decision alone (no store), side by side:
// rules=2026.3 is the policy before decision 0120 with a team by names,
// rules=2026.4 the shipped policy with the evidence a key household's
// visit needs. It isolates the cost of the stricter validation from the
// store's (BenchmarkRecordVisit in command measures the whole command).
func BenchmarkDecideRecordVisit(b *testing.B) {
	set, err := domain.DefaultPolicySet()
	if err != nil {
		b.Fatal(err)
	}
	prev, err := set.Get("default-2026.3")
	if err != nil {
		b.Fatal(err)
	}
	loc := time.FixedZone("CST", 8*3600)
	occurred := time.Date(2026, 3, 2, 10, 0, 0, 0, loc)
	m := domain.Meta{Actor: "网格员小李", Role: domain.RoleGridWorker, At: occurred.Add(time.Hour)}
	for _, rules := range []struct {
		name string
		pol  *domain.Policy
		in   domain.RecordVisit
	}{
		{"2026.3", prev, domain.RecordVisit{Team: []string{"网格员小李"}, OccurredAt: occurred, Mode: domain.ModeHome,
			Outcome: domain.OutcomeCompleted, Observations: "情况稳定"}},
		{"2026.4", set.Current(), domain.RecordVisit{OccurredAt: occurred, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
			Members: []domain.TeamMember{{Person: "网格员小李", Role: domain.TeamGridWorker}, {Person: "医生王", Role: domain.TeamDoctor}},
			Purpose: domain.PurposeRoutine, Covered: domain.FiveUnderstandings(), Observations: "情况稳定",
			NextContact: &domain.NextContact{Person: "网格员小李", At: occurred.Add(7 * 24 * time.Hour)},
			CheckIn:     &domain.CheckIn{At: occurred, Ref: "checkin-1", Latitude: 30.27, Longitude: 120.15}}},
	} {
		b.Run("rules="+rules.name, func(b *testing.B) {
			h := domain.NewHousehold("h1")
			reg := domain.Meta{Actor: "网格员小李", Role: domain.RoleGridWorker, At: occurred.Add(-24 * time.Hour)}
			evs, err := h.Register(reg, rules.pol, domain.RegisterHousehold{Address: "幸福社区 1 号", Community: "幸福社区", Grid: "第3网格",
				ResponsibleWorker: "网格员小李", Class: domain.ClassKey, Risk: domain.RiskBlue})
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range evs {
				h.Apply(e)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				in := rules.in
				in.VisitID = fmt.Sprint("v", i)
				if _, err := h.RecordVisit(m, rules.pol, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
