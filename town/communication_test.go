package town

import (
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// TestSomeConversationsAreIneffective: the town records 沟通无效 (001 §6.2;
// decision 0145) on about one completed visit in twenty, each with a
// reason, never on a refusal or nobody at home — below the policy's 15%, so
// the demo's street is not flagged for it as a whole.
func TestSomeConversationsAreIneffective(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	reg := domain.NewRegistry()
	completed, ineffective := 0, 0
	reasons := map[domain.CommunicationReason]int{}
	for _, b := range g.batches {
		for _, e := range b.Events {
			if e.Type != domain.TypeVisitRecorded {
				continue
			}
			ev, err := reg.Decode(e.Type, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			v := ev.(domain.VisitRecorded)
			if v.Outcome == domain.OutcomeCompleted {
				completed++
			}
			if v.Communication == "" {
				continue
			}
			if !v.Ineffective() || v.CommunicationReason == "" {
				t.Fatalf("visit %s: communication %q, reason %q, outcome %s", v.VisitID, v.Communication, v.CommunicationReason, v.Outcome)
			}
			ineffective++
			reasons[v.CommunicationReason]++
		}
	}
	if share := float64(ineffective) / float64(completed); completed < 1000 || share < 0.02 || share > 0.09 {
		t.Fatalf("%d of %d completed visits ineffective (%.1f%%), want about 5%%", ineffective, completed, 100*share)
	}
	if len(reasons) != len(domain.CommunicationReasons()) {
		t.Fatalf("reasons used: %v", reasons)
	}
}
