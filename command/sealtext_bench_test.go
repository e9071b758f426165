package command

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
)

// BenchmarkSealTextStep is the CPU cost the wider seal adds to one command,
// without the store's I/O (which dominates BenchmarkSealedText and its
// noise): sealing a visit's three text fields, and a member's name (with
// its search tag) and birth date, with the keys already cached.
func BenchmarkSealTextStep(b *testing.B) {
	ctx := context.Background()
	ks, err := keystore.OpenFileStore(filepath.Join(b.TempDir(), "keys"))
	if err != nil {
		b.Fatal(err)
	}
	s := &Service{sealer: keystore.New(ks, keystore.Config{})}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	cases := map[string]domain.Event{
		"visit": domain.VisitRecorded{VisitID: "v1", Team: []string{"网格员小李"}, OccurredAt: at, Observations: "情况稳定，精神尚可",
			Summary: "老人独自在家，说起老伴去世后夜里睡不着", Understandings: domain.Understandings{HomeSafety: "楼道堆物"}},
		"member": domain.HouseholdMemberAdded{MemberID: "m1", MemberDetails: domain.MemberDetails{Name: "王秀英", Relation: "本人", BirthDate: "1948-01-01"}},
	}
	for _, name := range []string{"visit", "member"} {
		ev := cases[name]
		b.Run(name, func(b *testing.B) {
			if _, err := s.sealText(ctx, "h1", []domain.Event{ev}); err != nil { // keys created and cached
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.sealText(ctx, "h1", []domain.Event{ev}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenLabels is the CPU cost decision 0147 adds to every fold of
// a household: opening a registration's sealed category and circumstance
// (keys cached), beside the same registration written in clear.
func BenchmarkOpenLabels(b *testing.B) {
	ctx := context.Background()
	ks, err := keystore.OpenFileStore(filepath.Join(b.TempDir(), "keys"))
	if err != nil {
		b.Fatal(err)
	}
	v := keystore.New(ks, keystore.Config{})
	s := &Service{sealer: v, opener: v}
	reg := domain.HouseholdRegistered{HouseholdID: "h1", Address: "槐树胡同1号", Community: "幸福社区", Grid: "第3网格", Class: domain.ClassKey,
		Category: domain.CategoryDiBao, Circumstances: []domain.Circumstance{domain.CircumstanceDisability}, ClassBy: domain.ClassByRule,
		ClassRule: "category di_bao", At: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	sealed, err := s.sealText(ctx, "h1", []domain.Event{reg})
	if err != nil {
		b.Fatal(err)
	}
	for _, side := range []struct {
		name string
		ev   domain.Event
	}{{"labels=clear", reg}, {"labels=sealed", sealed[0]}} {
		b.Run(side.name, func(b *testing.B) {
			rec := domain.Recorded{Version: 1, Event: side.ev}
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.openLabels(ctx, rec)
				if r := got.Event.(domain.HouseholdRegistered); err != nil || r.Category != domain.CategoryDiBao || r.Class != domain.ClassKey {
					b.Fatalf("%+v %v", got.Event, err)
				}
			}
		})
	}
}
