package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
)

// The assistance category and the circumstances enter the log sealed
// (decision 0147), and the class rules still decide on the clear values,
// also after a restart (the values are opened from the log, not kept from
// the command that wrote them).
func TestHouseholdLabelsSealedAndDecided(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ok(t)(e.svc.RegisterHousehold(ctx, cmd(t, "reg-li", "网格员小李", "2026-03-02 09:00"), "li", domain.RegisterHousehold{
		Address: "槐树胡同1号", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李", Risk: domain.RiskYellow,
		Category: domain.CategoryDiBao, Circumstances: []domain.Circumstance{domain.CircumstanceSeriousMental, domain.CircumstanceDisability}}))
	if h := e.household("li"); h.Class() != domain.ClassSpecial || h.Category() != domain.CategoryDiBao {
		t.Fatalf("registered: class %q category %q", h.Class(), h.Category())
	}
	e.restart() // an empty stream cache: the labels come from the log
	// Without the serious mental illness, the rules still ask for key: by
	// the category and the disability, both opened from their tokens.
	ok(t)(e.svc.ChangeCircumstances(ctx, cmd(t, "circ-li", "网格员小李", "2026-03-03 09:00"), "li",
		[]domain.Circumstance{domain.CircumstanceDisability}, "复查"))
	if h := e.household("li"); h.Class() != domain.ClassKey || !slices.Equal(h.Circumstances(), []domain.Circumstance{domain.CircumstanceDisability}) {
		t.Fatalf("after the circumstances changed: class %q circumstances %q", h.Class(), h.Circumstances())
	}
	e.restart()
	ok(t)(e.svc.ChangeCircumstances(ctx, cmd(t, "circ-li-2", "网格员小李", "2026-03-04 09:00"), "li", nil, "复查"))
	if h := e.household("li"); h.Class() != domain.ClassKey { // 低保 alone is key
		t.Fatalf("without circumstances: class %q", h.Class())
	}
	e.restart()
	ok(t)(e.svc.ChangeCategory(ctx, cmd(t, "cat-li", "网格员小李", "2026-03-05 09:00"), "li", domain.CategoryNone, "退出低保"))
	if h := e.household("li"); h.Class() != domain.ClassOrdinary || h.Category() != domain.CategoryNone {
		t.Fatalf("without the category: class %q category %q", h.Class(), h.Category())
	}
	evs := e.stream(domain.HouseholdStream("li"))
	if got := types(evs); len(got) != 6 { // two class changes follow the rules
		t.Fatalf("events: %v", got)
	}
	for _, ev := range evs {
		for _, label := range []string{string(domain.CategoryDiBao), string(domain.CircumstanceDisability), string(domain.CircumstanceSeriousMental)} {
			if bytes.Contains(ev.Data, []byte(label)) {
				t.Fatalf("%s v%d holds %q in clear: %s", ev.Type, ev.Version, label, ev.Data)
			}
		}
	}
	// The class is sealed too (decision 0148): the registration's class
	// and each class change's from and to hold tokens that open to the
	// class the rules decided.
	classes := []domain.HouseholdClass{}
	for _, ev := range evs {
		var got []string
		switch ev.Type {
		case domain.TypeHouseholdRegistered:
			var r domain.HouseholdRegistered
			if err := json.Unmarshal(ev.Data, &r); err != nil {
				t.Fatal(err)
			}
			got = []string{string(r.Class)}
		case domain.TypeHouseholdClassChanged:
			var r domain.HouseholdClassChanged
			if err := json.Unmarshal(ev.Data, &r); err != nil {
				t.Fatal(err)
			}
			got = []string{string(r.From), string(r.To)}
		}
		for _, tok := range got {
			r, err := domain.OpenText(ctx, e.vault, tok)
			if err != nil || !domain.IsSealedText(tok) {
				t.Fatalf("%s v%d: class %q not sealed (%v)", ev.Type, ev.Version, tok, err)
			}
			classes = append(classes, domain.HouseholdClass(r.Value))
		}
		for _, clear := range []string{`"class":"`, `"from":"`, `"to":"`} {
			for _, c := range domain.HouseholdClasses() {
				if bytes.Contains(ev.Data, []byte(clear+string(c)+`"`)) {
					t.Fatalf("%s v%d holds the class %q in clear: %s", ev.Type, ev.Version, c, ev.Data)
				}
			}
		}
	}
	if want := []domain.HouseholdClass{domain.ClassSpecial, domain.ClassSpecial, domain.ClassKey, domain.ClassKey, domain.ClassOrdinary}; !slices.Equal(classes, want) {
		t.Fatalf("classes as sealed: %q, want %q", classes, want)
	}

	// Events written before the seal (clear labels) still fold.
	clear := newEnv(t, func(c *command.Config) { c.Sealer = nil })
	ok(t)(clear.svc.RegisterHousehold(ctx, cmd(t, "reg-old", "网格员小李", "2026-03-02 09:00"), "old", domain.RegisterHousehold{
		Address: "槐树胡同2号", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李", Risk: domain.RiskYellow,
		Category: domain.CategoryTeKun}))
	if h := clear.household("old"); h.Category() != domain.CategoryTeKun || h.Class() != domain.ClassKey ||
		!bytes.Contains(clear.stream(domain.HouseholdStream("old"))[0].Data, []byte(`"te_kun"`)) {
		t.Fatalf("clear labels: class %q category %q", h.Class(), h.Category())
	}
}

// A spot check's finding detail (decision 0115) is sealed under the
// sampled visit's household's key and reads as erased after its erasure.
func TestSpotCheckFindingDetailSealed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const detail = "户主说三月没有人上门，邻居也说没见过网格员"
	ok(t)(e.svc.RegisterHousehold(ctx, cmd(t, "reg-zhao", "网格员小李", "2026-03-02 09:00"), "zhao", domain.RegisterHousehold{
		Address: "槐树胡同3号", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李", Risk: domain.RiskYellow}))
	v := ok(t)(e.svc.RecordVisit(ctx, cmd(t, "v-zhao", "网格员小李", "2026-03-10 12:00"), "zhao", evidence(command.Visit{VisitID: "v-zhao",
		Team: []string{"网格员小李"}, OccurredAt: at(t, "2026-03-10 10:00"), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted})))
	ref := domain.VisitRef{Household: "zhao", Version: v.LastVersion}
	draw := cmd(t, "draw-03", "王督导", "2026-04-02 09:00")
	draw.Role = domain.RoleSupervisor
	ok(t)(e.svc.DrawSpotChecks(ctx, draw, "幸福社区", "2026-03", []domain.VisitRef{ref}, []string{"抽查员老陈"}))
	ok(t)(e.svc.RecordSpotCheckFinding(ctx, cmd(t, "find-03", "抽查员老陈", "2026-04-03 09:00"), "幸福社区", "2026-03", ref,
		domain.FindingDiscrepancy, detail))
	if raw := e.dbBytes(); bytes.Contains(raw, []byte(detail)) || !bytes.Contains(raw, []byte("抽查员老陈")) {
		t.Fatal("the finding's detail is in clear in the database files (or the inspector's name, the control, is not)")
	}
	round, err := e.svc.SpotCheckRound(ctx, "幸福社区", "2026-03")
	if err != nil || len(round.Findings()) != 1 {
		t.Fatalf("round: %v", err)
	}
	tok := round.Findings()[0].Detail
	if r, err := domain.OpenText(ctx, e.vault, tok); err != nil || r.Value != detail || !domain.IsSealedText(tok) {
		t.Fatalf("open the detail: %+v %v", r, err)
	}
	eraseHousehold(t, e, "zhao", "2026-04-04 09:00")
	if got := domain.ShownText(ctx, e.vault, tok); got != domain.ErasedText {
		t.Fatalf("detail after erasure: %q", got)
	}
}
