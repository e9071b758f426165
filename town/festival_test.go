package town

import (
	"encoding/json"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// 004 §4.2 重要节日必访; 000 §1.2 class A cash and goods, class B festival gifts,
// class C temporary relief (decisions 0122, 0140): the seed's town makes
// festival visits with relief around the Spring Festival and Mid-Autumn of
// 2026, only on completed home visits to key and special households inside
// the windows, each handover acknowledged by a current member; the relief
// follows the category.
func TestSeed004_4_2_TownMakesFestivalVisitsWithRelief(t *testing.T) {
	t.Parallel()
	g := seedTown(t)
	cfg, err := testConfig(t, 2155, SeedHouseholds).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	windows := FestivalWindows(cfg.Start, cfg.End, cfg.Location)
	if len(windows) != 2 {
		t.Fatalf("festival windows of 2026: %+v", windows)
	}
	cats := map[string]domain.AssistanceCategory{}
	classes := map[string]domain.HouseholdClass{}
	per := map[domain.Festival]int{}
	kinds := map[domain.ReliefKind]int{}
	for _, b := range g.batches {
		for _, e := range b.Events {
			switch e.Type {
			case domain.TypeHouseholdRegistered:
				var r domain.HouseholdRegistered
				if err := json.Unmarshal(e.Data, &r); err != nil {
					t.Fatal(err)
				}
				cats[b.Stream], classes[b.Stream] = r.Category, openClass(t, r.Class)
			case domain.TypeHouseholdCategoryChanged:
				var r domain.HouseholdCategoryChanged
				if err := json.Unmarshal(e.Data, &r); err != nil {
					t.Fatal(err)
				}
				cats[b.Stream] = r.To
			case domain.TypeHouseholdClassChanged:
				var r domain.HouseholdClassChanged
				if err := json.Unmarshal(e.Data, &r); err != nil {
					t.Fatal(err)
				}
				classes[b.Stream] = openClass(t, r.To)
			case domain.TypeVisitRecorded:
				var v domain.VisitRecorded
				if err := json.Unmarshal(e.Data, &v); err != nil {
					t.Fatal(err)
				}
				if v.Purpose != domain.PurposeFestival {
					if len(v.Relief) > 0 {
						t.Fatalf("relief on a %s visit", v.Purpose)
					}
					continue
				}
				var in *FestivalWindow
				for i := range windows {
					if !v.OccurredAt.Before(windows[i].Starts) && !v.OccurredAt.After(windows[i].Due) {
						in = &windows[i]
					}
				}
				if in == nil || v.Outcome != domain.OutcomeCompleted || v.Mode != domain.ModeHome || classes[b.Stream] == domain.ClassOrdinary {
					t.Fatalf("festival visit outside a window or not a completed home visit to a key household: %+v (class %s)", v, classes[b.Stream])
				}
				per[in.Festival]++
				if len(v.Relief) == 0 {
					t.Fatalf("festival visit without relief: %+v", v)
				}
				for _, r := range v.Relief {
					kinds[r.Kind]++
					if r.Recipient == "" || r.AckMethod != domain.AckSignature || r.AckRef == "" {
						t.Fatalf("handover not acknowledged by a member: %+v", r)
					}
					switch cats[b.Stream] {
					case domain.CategoryTeKun:
						if r.Kind != domain.ReliefCash && r.Kind != domain.ReliefGoods {
							t.Fatalf("特困 household given %s", r.Kind)
						}
					case domain.CategoryDiBao:
						if r.Kind != domain.ReliefFestivalGift {
							t.Fatalf("低保 household given %s", r.Kind)
						}
					}
				}
			}
		}
	}
	t.Logf("festival visits %v, handovers %v", per, kinds)
	if per[domain.FestivalSpring] < 200 || per[domain.FestivalMidAutumn] < 200 || per[domain.FestivalSpring]+per[domain.FestivalMidAutumn] != g.stats.FestivalVisits {
		t.Fatalf("festival visits %v (stats %d)", per, g.stats.FestivalVisits)
	}
	if kinds[domain.ReliefCash] == 0 || kinds[domain.ReliefGoods] == 0 || kinds[domain.ReliefFestivalGift] == 0 {
		t.Fatalf("handovers %v: want cash and goods (特困) and festival gifts (低保)", kinds)
	}
}
