package sim_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/doorstep/doorstep/eventstore/sqlite"
	"github.com/doorstep/doorstep/internal/sim"
)

func TestWrite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "e.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := sim.Write(ctx, s, sim.Config{Households: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.Households != 200 || st.Problems == 0 || st.Referrals == 0 || st.Alerts == 0 {
		t.Fatalf("town too thin: %+v", st)
	}
}
