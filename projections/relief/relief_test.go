package relief_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/relief"
)

// TestSeed000_2_1_LedgerFollowsTheHouseholdsCommunity: a handover is in
// the ledger of the community the household is in when the visit is
// recorded, in the month of the visit in the community time zone (a visit
// at 00:30 on 1 October in China is October's, not September's).
func TestSeed000_2_1_LedgerFollowsTheHouseholdsCommunity(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	svc, err := command.New(command.Config{Store: env.Store, Policies: env.Policies, Calendar: env.Cal})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := projections.New(projections.Config{DB: env.DB, Dialect: env.Dialect, Store: env.Store}, relief.New(env.Loc))
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, env.Loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	c := func(id, when string) command.Cmd {
		return command.Cmd{ID: id, Actor: "李四", Role: domain.RoleGridWorker, At: at(when)}
	}
	if _, err := svc.RegisterHousehold(ctx, c("reg", "2026-09-01 09:00"), "h1", domain.RegisterHousehold{Address: "幸福路 8 号",
		Community: "C1", Grid: "G1", ResponsibleWorker: "李四", Class: domain.ClassOrdinary, Risk: domain.RiskGreen}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddMember(ctx, c("m1", "2026-09-01 09:05"), "h1", "m1", command.Member{Name: "王大爷", Relation: "本人"}); err != nil {
		t.Fatal(err)
	}
	visit := func(id, when string, r domain.Relief) {
		t.Helper()
		if _, err := svc.RecordVisit(ctx, c(id, when), "h1", command.Visit{Team: []string{"李四"}, Purpose: domain.PurposeFestival,
			OccurredAt: at(when), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, Relief: []domain.Relief{r}}); err != nil {
			t.Fatal(err)
		}
	}
	visit("v1", "2026-09-30 10:00", domain.Relief{Kind: domain.ReliefCash, AmountFen: 30000, Recipient: "m1", AckMethod: domain.AckSignature})
	if _, err := svc.Relocate(ctx, c("move", "2026-09-30 12:00"), "h1", "和平路 1 号", "C2", "G2", "搬家"); err != nil {
		t.Fatal(err)
	}
	visit("v2", "2026-10-01 00:30", domain.Relief{Kind: domain.ReliefFestivalGift, Items: []domain.ReliefItem{{Name: "月饼", Quantity: 2, Unit: "盒"}},
		Recipient: "m1", AckMethod: domain.AckPhoto})
	if _, err := eng.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rd := relief.NewReader(env.DB, env.Dialect)
	for _, tc := range []struct {
		community, month string
		kind             domain.ReliefKind
	}{{"C1", "2026-09", domain.ReliefCash}, {"C2", "2026-10", domain.ReliefFestivalGift}} {
		l, err := rd.List(ctx, relief.Filter{Community: tc.community, Month: tc.month})
		if err != nil {
			t.Fatal(err)
		}
		if l.Count != 1 || len(l.Handovers) != 1 || l.Handovers[0].Kind != tc.kind || l.Handovers[0].Community != tc.community {
			t.Errorf("%s %s: %+v", tc.community, tc.month, l)
		}
	}
	if l, err := rd.List(ctx, relief.Filter{Community: "C1", Month: "2026-10"}); err != nil || l.Count != 0 {
		t.Errorf("C1 October: %+v %v", l, err)
	}
	if _, err := rd.List(ctx, relief.Filter{Month: "2026-9"}); !errors.Is(err, relief.ErrInvalidFilter) {
		t.Errorf("bad month: %v", err)
	}
	if _, err := rd.List(ctx, relief.Filter{Month: "2026-09", Limit: relief.MaxLimit + 1}); !errors.Is(err, relief.ErrInvalidFilter) {
		t.Errorf("limit: %v", err)
	}
}
