package calendar_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"unicode"

	"github.com/doorstep/doorstep/domain/calendar"
)

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// FuzzParse: a calendar file (what `doorstep calendar import`, `-calendar`
// and PUT /v1/calendar/{year} read) never panics the parser or New; a
// refusal is a *calendar.FileError in English and Chinese; accepted years
// survive a JSON round trip with the same content hash.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"data/cn-2025.yaml", "data/cn-2026.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"year: 2027\noff: [2027-01-01, 2027-02-05/2027-02-11]\nwork: [2027-02-20]\n",
		`{"year":2027,"off":["2027-01-01"],"work":[]}`,
		`[{"year":2027,"off":[],"work":[]},{"year":2028,"off":["2028-01-01"],"work":[]}]`,
		"year: 2027\noff: [2027-02-11/2027-02-05]\n", "year: 99999999999\n", "- 1\n- 2\n", "&a [*a]", "",
		"year: 2027\nnotice: {title: 通知, number: 国办发明电〔2026〕7号, date: 2026-11-10}\noff: []\nwork: []\n",
	} {
		f.Add([]byte(s))
	}
	loc, err := calendar.LoadLocation("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		years, err := calendar.Parse(data)
		if err != nil {
			var fe *calendar.FileError
			if !errors.As(err, &fe) || !errors.Is(err, calendar.ErrInvalidData) || fe.EN == "" || !hasHan(fe.ZH) {
				t.Fatalf("Parse: %#v, want a *calendar.FileError in English and Chinese", err)
			}
			return
		}
		_, _ = calendar.New(loc, years...) // must not panic; it may refuse what Parse alone accepts
		b, err := json.Marshal(years)
		if err != nil {
			t.Fatal(err)
		}
		again, err := calendar.Parse(b)
		if err != nil || len(again) != len(years) {
			t.Fatalf("accepted years do not parse back from JSON %s: %v", b, err)
		}
		for i := range years {
			if years[i].Hash() != again[i].Hash() || years[i].Year != again[i].Year {
				t.Fatalf("year %d changed in a JSON round trip: %s, %s", years[i].Year, years[i].Hash(), again[i].Hash())
			}
		}
	})
}
