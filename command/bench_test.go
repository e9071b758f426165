package command_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/keystore"
)

// benchService opens a service on a fresh SQLite store with households
// registered, using 16 writers for the setup.
func benchService(b *testing.B, households int) *command.Service {
	return benchServiceWith(b, households, nil)
}

// benchServiceWith is benchService with the given policies (nil: the
// shipped set).
func benchServiceWith(b *testing.B, households int, policies *domain.PolicySet) *command.Service {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "events.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	svc, err := command.New(command.Config{Store: st, Clock: func() time.Time { return now }, MaxAttempts: 100, Policies: policies})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(households); i = next.Add(1) - 1 {
				_, err := svc.RegisterHousehold(ctx, command.Cmd{ID: fmt.Sprintf("reg-%d", i), Actor: "bench"}, fmt.Sprintf("h%d", i),
					domain.RegisterHousehold{Address: "幸福社区 1 号", Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李",
						Class: domain.ClassKey, Risk: domain.RiskBlue})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return svc
}

// runCallers runs b.N commands spread over callers goroutines and reports
// commands per second.
func runCallers(b *testing.B, callers int, do func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := do(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
}

// BenchmarkRecordVisit: RecordVisit through load–decide–save on SQLite,
// spread over 1,000 key households, side by side: rules=2026.3 is the
// policy before decision 0120 with the request of before (a team by
// names), rules=2026.4 the shipped policy with the evidence it asks of a
// key household (members with roles, purpose, the five understandings,
// next contact, check-in). Run both in one binary, alternating, and
// compare with benchstat -col /rules (BENCHMARKS.md).
func BenchmarkRecordVisit(b *testing.B) {
	const households = 1000
	shipped, err := domain.DefaultPolicySet()
	if err != nil {
		b.Fatal(err)
	}
	prev, err := shipped.Get("default-2026.3")
	if err != nil {
		b.Fatal(err)
	}
	before, err := domain.NewPolicySet(prev)
	if err != nil {
		b.Fatal(err)
	}
	occurred := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, rules := range []struct {
		name  string
		set   *domain.PolicySet
		visit func(i int) command.Visit
	}{
		{"2026.3", before, func(i int) command.Visit {
			return command.Visit{VisitID: fmt.Sprintf("v%d", i), Team: []string{"网格员小李"}, OccurredAt: occurred, Mode: domain.ModeHome,
				Outcome: domain.OutcomeCompleted, Observations: "情况稳定"}
		}},
		{"2026.4", shipped, func(i int) command.Visit {
			return command.Visit{VisitID: fmt.Sprintf("v%d", i), OccurredAt: occurred, Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted,
				Members: []domain.TeamMember{{Person: "网格员小李", Role: domain.TeamGridWorker}, {Person: "医生王", Role: domain.TeamDoctor}},
				Purpose: domain.PurposeRoutine, Covered: domain.FiveUnderstandings(), Observations: "情况稳定",
				NextContact: &domain.NextContact{Person: "网格员小李", At: occurred.Add(7 * 24 * time.Hour)},
				CheckIn:     &domain.CheckIn{At: occurred, Ref: "checkin-1", Latitude: 30.27, Longitude: 120.15}}
		}},
	} {
		for _, callers := range []int{1, 16} {
			b.Run(fmt.Sprintf("rules=%s/callers=%d", rules.name, callers), func(b *testing.B) {
				svc := benchServiceWith(b, households, rules.set)
				ctx := context.Background()
				runCallers(b, callers, func(i int) error {
					_, err := svc.RecordVisit(ctx, command.Cmd{ID: fmt.Sprintf("visit-%d", i), Actor: "网格员小李", Role: domain.RoleGridWorker},
						fmt.Sprintf("h%d", i%households), rules.visit(i))
					return err
				})
			})
		}
	}
}

// BenchmarkReportProblem: ReportProblem, which also takes a number from the
// one per-year counter stream every report shares.
func BenchmarkReportProblem(b *testing.B) {
	const households = 1000
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			svc := benchService(b, households)
			ctx := context.Background()
			runCallers(b, callers, func(i int) error {
				_, err := svc.ReportProblem(ctx, command.Cmd{ID: fmt.Sprintf("p-%d", i), Actor: "网格员小李"}, command.ReportProblem{
					HouseholdID: fmt.Sprintf("h%d", i%households), Description: "需要帮助", Category: domain.ProblemService,
					HandlingClass: domain.HandlingCoordinated, Colour: domain.ColourYellow, Urgency: domain.UrgencyOrdinary})
				return err
			})
		})
	}
}

// BenchmarkSealedText compares commands with personal text sealed (decision
// 0108) and in clear (the service before it), side by side on the same
// key vault setup: RecordVisit with a summary and observations, and
// AddMember with a name and birth date (search tags too). Run the two
// interleaved (-count) and compare with benchstat.
func BenchmarkSealedText(b *testing.B) {
	const households = 500
	// labelled-visit: visits to 低保 households with a disability, whose
	// category and circumstances are sealed (decision 0147) and opened on
	// every fold; "clear" writes them in clear.
	for _, kind := range []string{"visit", "member", "labelled-visit"} {
		for _, mode := range []string{"clear", "sealed"} {
			b.Run(kind+"/text="+mode, func(b *testing.B) {
				ctx := context.Background()
				dir := b.TempDir()
				st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "events.db")})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				ks, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
				if err != nil {
					b.Fatal(err)
				}
				now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
				svc, err := command.New(command.Config{Store: st, Sealer: keystore.New(ks, keystore.Config{}), Clock: func() time.Time { return now }, MaxAttempts: 100})
				if err != nil {
					b.Fatal(err)
				}
				command.SetClearText(svc, mode == "clear")
				for i := range households {
					id := fmt.Sprintf("h%d", i)
					reg := domain.RegisterHousehold{Address: "幸福社区槐树胡同 " + id, Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: "网格员小李",
						Class: domain.ClassKey, Risk: domain.RiskBlue}
					if kind == "labelled-visit" {
						reg.Category, reg.Circumstances = domain.CategoryDiBao, []domain.Circumstance{domain.CircumstanceDisability}
					}
					if _, err := svc.RegisterHousehold(ctx, command.Cmd{ID: "reg-" + id, Actor: "bench"}, id, reg); err != nil {
						b.Fatal(err)
					}
					// A phone: the household's member key exists in both modes.
					if _, err := svc.RecordConsent(ctx, command.Cmd{ID: "c-" + id, Actor: "bench"}, id, true, "走访", ""); err != nil {
						b.Fatal(err)
					}
				}
				occurred := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
				runCallers(b, 4, func(i int) error {
					h := fmt.Sprintf("h%d", i%households)
					if kind == "member" {
						_, err := svc.AddMember(ctx, command.Cmd{ID: fmt.Sprintf("m-%d", i), Actor: "网格员小李"}, h, fmt.Sprintf("m%d", i),
							command.Member{Name: "王秀英", Relation: "本人", BirthDate: "1948-01-01", Phone: "13900000000"})
						return err
					}
					_, err := svc.RecordVisit(ctx, command.Cmd{ID: fmt.Sprintf("visit-%d", i), Actor: "网格员小李"}, h,
						evidence(command.Visit{VisitID: fmt.Sprintf("v%d", i), Team: []string{"网格员小李"}, OccurredAt: occurred, Mode: domain.ModeHome,
							Outcome: domain.OutcomeCompleted, Observations: "情况稳定，精神尚可", Summary: "老人独自在家，说起老伴去世后夜里睡不着", HomeSafety: "楼道堆物"}))
					return err
				})
			})
		}
	}
}
