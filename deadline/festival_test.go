package deadline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
)

// 004 §4.2 重要节日必访; 001 §2.4.2 结合传统节日（春节、中秋）开展主题走访 (decision 0140):
// the Mid-Autumn campaign of 2026 opens on 14 September with its due date
// at the end of 25 September; the key and special households of the
// community each get a festival_visit deadline (the ordinary one and a
// household of another community do not). The one visited for the festival
// has no alert; the other is warned and then breached at the due date,
// naming its responsible worker; resending the campaign's command changes
// nothing.
func TestSeed004_4_2_FestivalVisitBreachesAtTheDueDate(t *testing.T) {
	ctx := context.Background()
	x := newReferralWorld(t)
	env := x.env
	reg := func(id, community, worker string, class domain.HouseholdClass, cat domain.AssistanceCategory) {
		h := domain.NewHousehold(id)
		m := testenv.Meta(worker, domain.RoleGridWorker, time.Date(2026, 9, 1, 9, 0, 0, 0, env.Loc))
		env.Do(t, domain.HouseholdStream(id), m)(h.Register(m, env.Policies.Current(), domain.RegisterHousehold{Address: id + "号",
			Community: community, Grid: "g1", ResponsibleWorker: worker, Class: class, Category: cat, Risk: domain.RiskBlue,
			ClassReason: "复核"}))
	}
	reg("h1", "c1", "w1", domain.ClassKey, domain.CategoryDiBao)
	reg("h2", "c1", "w2", domain.ClassSpecial, domain.CategoryTeKun)
	reg("h3", "c1", "w1", domain.ClassOrdinary, domain.CategoryNone)
	reg("h4", "c2", "w4", domain.ClassKey, domain.CategoryDiBao)
	starts := time.Date(2026, 9, 14, 0, 0, 0, 0, env.Loc)
	due := time.Date(2026, 9, 25, 23, 59, 59, 0, env.Loc)
	in := command.FestivalCampaignInput{Festival: domain.FestivalMidAutumn, Year: 2026, Starts: starts, Due: due,
		Households: []string{"h1", "h2", "h3", "h4"}}
	c := x.cmd("campaign-1", "督查办老王", domain.RoleSupervisor, "2026-09-10 09:00")
	res, err := x.svc.OpenFestivalCampaign(ctx, c, "c1", in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Targets != 2 || res.Scheduled != 2 {
		t.Fatalf("targets %d scheduled %d, want the key and the special household of c1", res.Targets, res.Scheduled)
	}
	if again, err := x.svc.OpenFestivalCampaign(ctx, c, "c1", in); err != nil || again.Scheduled != 0 || again.Targets != 2 || !again.Replayed {
		t.Fatalf("resent: %+v %v", again, err)
	}
	for _, id := range []string{"h3", "h4"} {
		h := domain.NewHousehold(id)
		env.Load(t, domain.HouseholdStream(id), h)
		if _, _, _, ok := h.FestivalVisitDue(); ok {
			t.Fatalf("%s got a festival visit deadline", id)
		}
	}
	// h1 is visited for the festival on 20 September.
	h := domain.NewHousehold("h1")
	env.Load(t, domain.HouseholdStream("h1"), h)
	visited := time.Date(2026, 9, 20, 10, 0, 0, 0, env.Loc)
	m := testenv.Meta("w1", domain.RoleGridWorker, visited.Add(time.Hour))
	v := testenv.Evidence("w1", domain.RecordVisit{VisitID: "v1", OccurredAt: visited, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})
	v.Purpose = domain.PurposeFestival
	env.Do(t, domain.HouseholdStream("h1"), m)(h.RecordVisit(m, env.Policies.Current(), v))

	festivalAlerts := func(stream string) (out []string) {
		for _, e := range streamTypes(t, env, stream) {
			if e.Metadata.Role != domain.RoleSystem {
				continue
			}
			ev, err := domain.NewRegistry().Decode(e.Type, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			switch a := ev.(type) {
			case domain.HouseholdDeadlineApproaching:
				if a.Kind == domain.ClockFestivalVisit {
					out = append(out, "approaching")
				}
			case domain.HouseholdDeadlineBreached:
				if a.Kind == domain.ClockFestivalVisit {
					if !a.Due.Equal(due) || a.Responsible != "w2" {
						t.Errorf("breach due %s responsible %q, want %s and w2", a.Due, a.Responsible, due)
					}
					out = append(out, "breached")
				}
			}
		}
		return out
	}
	w := x.w
	for _, step := range []struct {
		at   time.Time
		want []string // h2's festival alerts by then
	}{
		{time.Date(2026, 9, 20, 12, 0, 0, 0, env.Loc), nil},
		{due.Add(-time.Minute), []string{"approaching"}}, // warned before the due date
		{due, []string{"approaching"}},                   // due, not late
		{due.Add(time.Second), []string{"approaching", "breached"}},
		{due.Add(48 * time.Hour), []string{"approaching", "breached"}}, // once
	} {
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Fire(ctx, step.at); err != nil {
			t.Fatal(err)
		}
		if got := festivalAlerts(domain.HouseholdStream("h2")); !slices.Equal(got, step.want) {
			t.Fatalf("at %s h2's festival alerts %v, want %v", step.at, got, step.want)
		}
	}
	if got := festivalAlerts(domain.HouseholdStream("h1")); len(got) != 0 {
		t.Fatalf("h1, visited for the festival, got %v", got)
	}
}
