package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/projections"
)

// The sealed values of one household, as a person types them: the
// sensitive fields, and since the wider seal (decision 0108) the member's
// name and birth date, the address, a visit's summary and a problem's
// description.
var sealedValues = []string{"110101194501010011", "13811112222", "月入八百元整", "尿毒症每周透析", "仅靠养老金度日", "高血压多年",
	"孙大爷", "1945-01-01", "幸福路 10 号", "老人说儿子半年没来看他了", "厨房煤气灶点不着火已经一周", "di_bao", "disability"}

// recordSealedAndErase records a household whose every sealed field is
// given, reveals it once (so the record of reveals has an entry), exports
// nothing yet, then erases the household through the API.
func recordSealedAndErase(t *testing.T, p *proc) {
	t.Helper()
	admin := p.token
	worker := p.newToken(admin, map[string]any{"name": "李四", "role": "worker", "grids": []string{"幸福网格"}})
	sup := p.newToken(admin, map[string]any{"name": "王书记", "role": "supervisor", "communities": []string{"幸福社区"}})
	officer := p.newToken(admin, map[string]any{"name": "周主任", "role": "privacy_officer"})
	p.must(201, "POST", "/v1/households", worker, map[string]any{"household_id": "sun", "address": "幸福路 10 号", "community": "幸福社区",
		"grid": "幸福网格", "responsible_worker": "李四", "risk": "yellow",
		// The category and circumstances are sealed too (decision 0147);
		// the policy's class rule makes the household key.
		"category": sealedValues[11], "circumstances": []string{sealedValues[12]}})
	p.must(200, "POST", "/v1/households/sun/consent", worker, map[string]any{"given": true})
	p.must(201, "POST", "/v1/households/sun/members", worker, map[string]any{"member_id": "m1", "name": sealedValues[6], "relation": "本人",
		"birth_date": sealedValues[7], "id_number": sealedValues[0], "phone": sealedValues[1], "income": sealedValues[2], "health": sealedValues[3]})
	p.must(200, "POST", "/v1/households/sun/visits", worker, evidence("李四", map[string]any{"visit_id": "v1",
		"occurred_at": ago(time.Hour), "mode": "home", "outcome": "completed", "economic": sealedValues[4], "health": sealedValues[5],
		"summary": sealedValues[9]}))
	v := p.must(201, "POST", "/v1/problems", worker, map[string]any{"problem_id": "sun-p1", "household_id": "sun", "visit_id": "v1",
		"description": sealedValues[10], "category": "service", "handling_class": "coordinated", "colour": "yellow", "urgency": "ordinary"})
	prof := p.must(200, "GET", "/v1/households/sun?purpose=visit_preparation&wait_for="+v["position"].(string), worker, nil)
	m1 := prof["members"].([]any)[0].(map[string]any)
	if ph := m1["phone"].(map[string]any); ph["value"] != sealedValues[1] || m1["name"] != sealedValues[6] || m1["birth_date"] != sealedValues[7] || prof["address"] != sealedValues[8] {
		t.Fatalf("reveal before erasure: %v", prof)
	}
	if prof["category"] != sealedValues[11] || prof["class"] != "key" {
		t.Fatalf("category and class before erasure: %v %v", prof["category"], prof["class"])
	}
	// The class is sealed (decision 0148); the class filter opens it in Go
	// and finds the household before the erasure.
	if l := p.must(200, "GET", "/v1/households?class=key", worker, nil); len(l["households"].([]any)) != 1 {
		t.Fatalf("class filter before erasure: %v", l)
	}
	if l := p.must(200, "GET", "/v1/households?class=special", worker, nil); len(l["households"].([]any)) != 0 {
		t.Fatalf("class filter of another class before erasure: %v", l)
	}
	// Search by the sealed name finds the household before the erasure.
	if l := p.must(200, "GET", "/v1/households?q="+url.QueryEscape(sealedValues[6]), worker, nil); len(l["households"].([]any)) != 1 {
		t.Fatalf("search by name before erasure: %v", l)
	}
	if pb := p.must(200, "GET", "/v1/problems/sun-p1", worker, nil); pb["description"] != sealedValues[10] {
		t.Fatalf("problem before erasure: %v", pb)
	}
	p.must(201, "POST", "/v1/households/sun/erasure", sup, map[string]any{"request_id": "er1", "scope": "household", "legal_basis": "service_ended", "reference": "PIPL-2026-9"})
	p.must(200, "POST", "/v1/households/sun/erasure/er1/approve", officer, nil)
	prof = p.must(200, "GET", "/v1/households/sun?purpose=visit_preparation", worker, nil)
	m1 = prof["members"].([]any)[0].(map[string]any)
	if ph := m1["phone"].(map[string]any); ph["erased"] != true || m1["name"] != "[erased]" || m1["birth_date"] != "[erased]" || prof["address"] != "[erased]" || prof["category"] != "[erased]" {
		t.Fatalf("reveal after erasure: %v", prof)
	}
	if pb := p.must(200, "GET", "/v1/problems/sun-p1", worker, nil); pb["description"] != "[erased]" {
		t.Fatalf("problem after erasure: %v", pb)
	}
	if l := p.must(200, "GET", "/v1/households?q="+url.QueryEscape(sealedValues[6]), worker, nil); len(l["households"].([]any)) != 0 {
		t.Fatalf("search by name after erasure: %v", l)
	}
	if prof["class"] != "[erased]" {
		t.Fatalf("class after erasure: %v", prof["class"])
	}
	if l := p.must(200, "GET", "/v1/households?class=key", worker, nil); len(l["households"].([]any)) != 0 {
		t.Fatalf("class filter after erasure: %v", l)
	}
}

// clearClasses are the forms a household's class takes in clear in an
// event's payload (JSON as written, and as PostgreSQL's jsonb prints it):
// the words themselves ("key", "special") are too common to grep for.
var clearClasses = func() []string {
	var out []string
	for _, f := range []string{"class", "from", "to"} {
		for _, c := range []string{"ordinary", "key", "special"} {
			out = append(out, `"`+f+`":"`+c+`"`, `"`+f+`": "`+c+`"`)
		}
	}
	return out
}()

// checkClassColumns fails the test unless the read models' class columns of
// household sun (the profile's, the coverage history's) hold tokens.
// classes runs a query of one household's class values on the read models.
func checkClassColumns(t *testing.T, classes func(table string) ([]string, error)) {
	t.Helper()
	n := 0
	for _, table := range []string{"profile_households", "coverage_classes"} {
		cs, err := classes(table)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			n++
			if !domain.IsSealedText(c) {
				t.Errorf("%s: the class %q is in clear", table, c)
			}
		}
	}
	if n < 2 {
		t.Fatalf("only %d class values of household sun in the read models", n)
	}
}

// sqlClasses is checkClassColumns' query on a database/sql read model.
func sqlClasses(db *sql.DB) func(string) ([]string, error) {
	return func(table string) ([]string, error) {
		rows, err := db.Query(`SELECT class FROM `+table+` WHERE household_id = ?`, "sun")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
}

// grepAll fails the test if any of the values is in any file under dir or
// in extra (logs, dumps), as bytes.
func grepAll(t *testing.T, dir string, extra map[string][]byte, values []string) int {
	t.Helper()
	files := 0
	check := func(name string, b []byte) {
		for _, s := range values {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%q is in clear in %s", s, name)
			}
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		check(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range extra {
		check(name, b)
	}
	return files
}

// TestSealedValuesNowhereInClear (issue 14's grep test: the sensitive
// fields, and the names, birth date, address, visit summary and problem
// description sealed since decision 0108): every file `doorstep serve` wrote in its data directory
// (event store and WAL, read models, key store, record of reveals, tokens),
// its logs, a whole-log and an audit export, and on PostgreSQL a pg_dump of
// its schema, hold none of the sealed values in clear, before or after the
// erasure; after it the keys are gone and `doorstep verify` passes.
func TestSealedValuesNowhereInClear(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		p := start(t, dir)
		recordSealedAndErase(t, p)
		p.stop()
		for _, args := range [][]string{
			{"export", "-data", dir, "-household", "sun", "-format", "csv", "-o", filepath.Join(dir, "trail.csv")},
			{"export", "-data", dir, "-o", filepath.Join(dir, "log.jsonl")},
		} {
			var out, errb bytes.Buffer
			if err := run(context.Background(), args, &out, &errb); err != nil {
				t.Fatalf("%v: %v %s", args, err, errb.String())
			}
		}
		if n := grepAll(t, dir, map[string][]byte{"the server's log": []byte(p.errb.String() + p.out.String())}, append(clearClasses, sealedValues...)); n < 6 {
			t.Fatalf("only %d files looked at", n)
		}
		rm, err := projections.OpenSQLite(context.Background(), projections.ReadModelPath(filepath.Join(dir, "events.db")))
		if err != nil {
			t.Fatal(err)
		}
		checkClassColumns(t, sqlClasses(rm))
		rm.Close()
		// Control of the class grep: the risk, in clear, is found as a payload holds it.
		if b, _ := os.ReadFile(filepath.Join(dir, "log.jsonl")); !bytes.Contains(b, []byte(`"risk":"yellow"`)) {
			t.Fatal(`control: "risk":"yellow" is not in the whole-log export; the class grep looks at nothing`)
		}
		// Control: the grep sees the data. Staff names are not sealed: the
		// worker's must be found, in the exports at least.
		if b, _ := os.ReadFile(filepath.Join(dir, "log.jsonl")); !bytes.Contains(b, []byte("李四")) {
			t.Fatal("control: the worker's name is not in the whole-log export; the grep looks at nothing")
		}
		// No way back: no key file holds a key any more, but the
		// deployment's search bucket key (no household's; decision 0108).
		keys, _ := filepath.Glob(filepath.Join(dir, "keys", "*"))
		index := sha256.Sum256([]byte(domain.SearchIndexSubject))
		for _, k := range keys {
			if filepath.Base(k) == hex.EncodeToString(index[:])+".key" {
				continue
			}
			if b, _ := os.ReadFile(k); bytes.Contains(b, []byte(`"wrapped"`)) || bytes.Contains(b, []byte(`"secret"`)) {
				t.Errorf("%s still holds a key after the erasure", k)
			}
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"verify", "-data", dir}, &out, &errb); err != nil {
			t.Fatalf("verify: %v %s", err, errb.String())
		}
	})
	t.Run("postgres", func(t *testing.T) {
		pg, conn, schema := sharedSchema(t, "privacy")
		dir := t.TempDir()
		kek := filepath.Join(t.TempDir(), "kek")
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"keys", "new-kek", "-o", kek}, &out, &errb); err != nil {
			t.Fatalf("new-kek: %v %s", err, errb.String())
		}
		p := start(t, dir, "-store", pg, "-store-schema", schema, "-kek-file", kek)
		recordSealedAndErase(t, p)
		p.stop()
		dump, err := exec.Command("pg_dump", "--data-only", "--schema="+schema, pg).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_dump: %v %s", err, dump)
		}
		if !bytes.Contains(dump, []byte("household.erasure_completed")) || !bytes.Contains(dump, []byte("李四")) { // control: staff names are in clear
			t.Fatalf("the dump does not hold the log:\n%.2000s", dump)
		}
		grepAll(t, dir, map[string][]byte{"pg_dump": dump, "the server's log": []byte(p.errb.String() + p.out.String())}, append(clearClasses, sealedValues...))
		// The events' payloads are bytea, which pg_dump prints in hex: the
		// class is looked for in that form too, with the risk (in clear) as
		// the control.
		var hexClasses []string
		for _, c := range clearClasses {
			hexClasses = append(hexClasses, hex.EncodeToString([]byte(c)))
		}
		grepAll(t, t.TempDir(), map[string][]byte{"pg_dump (hex)": dump}, hexClasses)
		if !bytes.Contains(dump, []byte(hex.EncodeToString([]byte(`"risk":"yellow"`)))) {
			t.Fatal("control: the risk, in clear, is not in the dump's payloads; the class grep looks at nothing")
		}
		checkClassColumns(t, func(table string) ([]string, error) {
			rows, err := conn.Query(context.Background(), `SELECT class FROM `+schema+`.`+table+` WHERE household_id = $1`, "sun")
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					return nil, err
				}
				out = append(out, c)
			}
			return out, rows.Err()
		})
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+schema+`.data_keys WHERE (secret IS NOT NULL OR wrapped IS NOT NULL) AND household_id LIKE 'sun%'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("keys of the erased household left: %d %v", n, err)
		}
		if !strings.Contains(string(dump), "data_keys") {
			t.Fatal("the dump holds no data_keys table")
		}
	})
}
