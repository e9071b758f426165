package coverage_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	cov "github.com/doorstep/doorstep/coverage"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/projections"
	"github.com/doorstep/doorstep/projections/coverage"
)

// BenchmarkReportSealedClasses is the cost of opening the class (decision
// 0148) in a coverage report: 10,000 households of 10 communities, each
// with its registration's class and a completed home visit a month, the
// whole street's report of a month. classes=clear is the report as it was
// (the class in clear); classes=sealed opens every class token with a key
// vault configured as doorstep serve's (a file key store, keys wrapped
// under a KEK, the default keystore.Config):
//   - vault=warm: the vault has opened the classes before (a server that
//     has been running: its cache holds a street, decision 0154);
//   - vault=cold: a new vault for every report, so every household's key is
//     read from the key store (the first report after a start);
//   - vault=cache4096: the vault's cache before decision 0154 (4,096 keys),
//     so most keys are read again on every report.
//
// Reported: ns per household of the whole report.
//
// DOORSTEP_BENCH_HOUSEHOLDS sets another size (up to 200,000), e.g. the
// 100,000 households of the town whose month close issue 15 bounds.
func BenchmarkReportSealedClasses(b *testing.B) {
	households := 10_000
	if v := os.Getenv("DOORSTEP_BENCH_HOUSEHOLDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200_000 {
			b.Fatalf("DOORSTEP_BENCH_HOUSEHOLDS=%q: want 1 to 200000", v)
		}
		households = n
	}
	ctx := context.Background()
	loc := time.FixedZone("CST", 8*3600)
	pols, err := domain.DefaultPolicySet()
	if err != nil {
		b.Fatal(err)
	}
	pol := pols.Current()
	dir := b.TempDir()
	fs, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		b.Fatal(err)
	}
	ring, err := keystore.NewKEKRing(bytes.Repeat([]byte{0x5a}, keystore.KEKSize))
	if err != nil {
		b.Fatal(err)
	}
	ks := keystore.WithKEK(fs, ring)
	sealer := keystore.New(ks, keystore.Config{})
	classes := domain.HouseholdClasses()
	var want cov.Figures // the clear side's street: the sealed side must agree
	for _, side := range []string{"clear", "sealed"} {
		db, err := projections.OpenSQLite(ctx, filepath.Join(dir, side+".db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		for _, s := range coverage.New().Schema() {
			if _, err := db.ExecContext(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		reg := time.Date(2025, 12, 1, 9, 0, 0, 0, loc).UnixNano()
		for i := range households {
			id := fmt.Sprintf("h%05d", i)
			class := string(classes[i%len(classes)])
			if side == "sealed" {
				if class, err = domain.SealText(ctx, sealer, id, class, nil); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO coverage_households VALUES (?, ?, ?, ?, 0)`, id, fmt.Sprint("c", i%10), "g", reg); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO coverage_classes VALUES (?, 1, ?, ?)`, id, reg, class); err != nil {
				b.Fatal(err)
			}
			for m := 1; m <= 6; m++ {
				at := time.Date(2026, time.Month(m), 1+i%28, 10, 0, 0, 0, loc).UnixNano()
				if _, err := tx.ExecContext(ctx, `INSERT INTO coverage_visits VALUES (?, ?, ?, 'home', 0)`, id, m+1, at); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		run := func(name string, rd func() *coverage.Reader) {
			b.Run(name, func(b *testing.B) {
				var r *cov.Report
				warm := rd()
				if _, err = warm.Report(ctx, pol, loc, "2026-06", ""); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if r, err = rd().Report(ctx, pol, loc, "2026-06", ""); err != nil {
						b.Fatal(err)
					}
				}
				if want.All.Due == 0 {
					want = r.Street
				}
				if r.Street.All.Due != int64(households) || fmt.Sprint(r.Street) != fmt.Sprint(want) {
					b.Fatalf("street %+v, want %+v", r.Street, want)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(households), "ns/household")
			})
		}
		if side == "clear" {
			rd := coverage.NewReader(db, nil)
			run("classes=clear", func() *coverage.Reader { return rd })
			continue
		}
		warm := coverage.NewReader(db, nil).WithOpener(keystore.New(ks, keystore.Config{}))
		run("classes=sealed/vault=warm", func() *coverage.Reader { return warm })
		run("classes=sealed/vault=cold", func() *coverage.Reader {
			return coverage.NewReader(db, nil).WithOpener(keystore.New(ks, keystore.Config{}))
		})
		small := coverage.NewReader(db, nil).WithOpener(keystore.New(ks, keystore.Config{CacheSize: 4096}))
		run("classes=sealed/vault=cache4096", func() *coverage.Reader { return small })
	}
}
