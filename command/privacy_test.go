package command_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// dbBytes returns the bytes of the SQLite database and its -wal and -shm
// files, whichever exist.
func (e *env) dbBytes() []byte {
	e.t.Helper()
	var all []byte
	found := 0
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(e.dbPath + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		found++
		all = append(all, b...)
	}
	if found == 0 {
		e.t.Fatal("no database files")
	}
	return all
}

// TestSensitiveFieldsEncryptedAndErasable is issue 14's "everything
// personal is sealed" test at the command layer (items 1 and 2, decisions
// 0100 and 0108): identity number, phone, income, health and the economic
// understanding, and also the member's name and birth date, the address, a
// visit's summary and a problem's description are nowhere in clear in the
// database files (main, WAL, SHM) or the key store, before and after the
// erasure; afterwards they read as erased and the chains verify.
func TestSensitiveFieldsEncryptedAndErasable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const (
		idNumber  = "110101194801010023"
		phone     = "13912345678"
		income    = "月收入八百元整"
		health    = "尿毒症每周透析三次"
		economic  = "靠低保和亲戚接济度日"
		name      = "王师傅本人姓名"
		birth     = "1948-01-01"
		address   = "幸福社区槐树胡同十七号院"
		summary   = "老人独自在家，说起老伴去世后夜里睡不着"
		describe  = "屋顶漏雨已经三个星期，卧室墙面发霉"
		safety    = "楼道堆物"
		progress  = "已联系物业上门查看屋顶"
		riskWhy   = "病情加重"
		staffName = "网格员小李"
	)
	ok(t)(e.svc.RegisterHousehold(ctx, cmd(t, "reg-wang", staffName, "2026-03-02 09:00"), "wang", domain.RegisterHousehold{
		Address: address, Community: "幸福社区", Grid: "第3网格", ResponsibleWorker: staffName, Risk: domain.RiskYellow,
		// 低保 with a disability: both labels reveal income and health
		// (decision 0147); the class rule makes the household key.
		Category: domain.CategoryDiBao, Circumstances: []domain.Circumstance{domain.CircumstanceDisability}}))
	ok(t)(e.svc.RecordConsent(ctx, cmd(t, "consent-wang", staffName, "2026-03-02 09:01"), "wang", true, "走访及救助所需信息", ""))
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m1", staffName, "2026-03-02 09:30"), "wang", "m1",
		command.Member{Name: name, Relation: "本人", BirthDate: birth, IDNumber: idNumber, Phone: phone, Income: income, Health: health}))
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "v1", staffName, "2026-03-02 12:00"), "wang", evidence(command.Visit{VisitID: "v1", Team: []string{staffName},
		OccurredAt: at(t, "2026-03-02 10:00"), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, Economic: economic, HomeSafety: safety, Summary: summary})))
	ok(t)(e.svc.ChangeRisk(ctx, cmd(t, "r1", staffName, "2026-03-02 12:30"), "wang", domain.RiskRed, riskWhy))
	pid, _ := e.report("p1", "wang", "v1", describe, domain.ProblemLivingSecurity, domain.HandlingCoordinated, domain.ColourYellow, domain.UrgencyOrdinary, "2026-03-02 12:40")
	ok(t)(e.svc.NoteProgress(ctx, cmd(t, "pn1", staffName, "2026-03-02 13:00"), pid, progress, domain.FollowPhone))
	secrets := []string{idNumber, phone, income, health, economic, name, birth, address, summary, describe, safety, progress, riskWhy,
		string(domain.CategoryDiBao), string(domain.CircumstanceDisability)}

	// Encrypted from the start: the plaintext never reaches the database
	// or the key store, while the staff's names (in clear by design, the
	// positive control) do.
	raw := append(e.dbBytes(), e.keyBytes()...)
	if !bytes.Contains(raw, []byte(staffName)) {
		t.Fatal("control: the worker's name should be readable in the database files; the grep is not looking at the data")
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("plaintext %q found in the database files before erasure", s)
		}
	}
	// The class (key, by the rules) is sealed too (decision 0148): "key" is
	// a common word, so the grep looks for it as the payload holds a class.
	if bytes.Contains(raw, []byte(`"class":"key"`)) || !bytes.Contains(raw, []byte(`"risk":"yellow"`)) {
		t.Fatal(`the class is in clear in the database files ("class":"key"), or the control (the risk, in clear) is not found`)
	}
	h := e.household("wang")
	mem := h.Members()[0]
	// The domain decided and folds on the clear labels; the log holds tokens.
	if h.Class() != domain.ClassKey || h.Category() != domain.CategoryDiBao || !slices.Equal(h.Circumstances(), []domain.Circumstance{domain.CircumstanceDisability}) {
		t.Fatalf("labels before erasure: class %q category %q circumstances %q", h.Class(), h.Category(), h.Circumstances())
	}
	var reg domain.HouseholdRegistered
	if err := json.Unmarshal(e.stream(domain.HouseholdStream("wang"))[0].Data, &reg); err != nil || reg.ClassBy != domain.ClassByRule ||
		!domain.IsSealedText(string(reg.Category)) || len(reg.Circumstances) != 1 || !domain.IsSealedText(string(reg.Circumstances[0])) || !domain.IsSealedText(reg.ClassRule) ||
		!domain.IsSealedText(string(reg.Class)) { // the class too (decision 0148)
		t.Fatalf("registration as stored: %+v %v", reg, err)
	}
	for _, f := range []struct {
		sealed domain.Sealed
		want   string
	}{{mem.IDNumber, idNumber}, {mem.Phone, phone}, {mem.Income, income}, {mem.Health, health}, {h.Visits()[0].Understandings.Economic, economic}} {
		if r, err := domain.Reveal(context.Background(), e.vault, "wang", f.sealed); err != nil || r.Value != f.want {
			t.Fatalf("reveal before erasure: %+v %v", r, err)
		}
	}
	// The sealed text opens while the keys exist.
	texts := []struct{ token, want string }{{mem.Name, name}, {mem.BirthDate, birth}, {h.Address(), address},
		{h.Visits()[0].Summary, summary}, {h.Visits()[0].Understandings.HomeSafety, safety}, {e.problem(pid).Description(), describe}}
	for _, f := range texts {
		if r, err := domain.OpenText(ctx, e.vault, f.token); err != nil || r.Value != f.want || !domain.IsSealedText(f.token) {
			t.Fatalf("open %q before erasure: %+v %v", f.want, r, err)
		}
	}
	evs := e.stream(domain.HouseholdStream("wang"))
	// The member's fields are under the member's own key, the visit's
	// under the household's.
	memberKey, keyID := evs[2].Metadata.KeyID, evs[3].Metadata.KeyID
	if !strings.HasPrefix(memberKey, domain.MemberKeyPrefix) || keyID == "" || keyID == memberKey || evs[4].Metadata.KeyID != "" || mem.Phone.KeyID != memberKey {
		t.Fatalf("key ids: %q %q %q", memberKey, keyID, evs[4].Metadata.KeyID)
	}

	// Erasure under PIPL, through the product: requested, approved by a
	// privacy officer, completed by destroying the keys.
	eraseHousehold(t, e, "wang", "2026-03-02 14:00")
	// The events stay and still decode; the sealed fields read as erased.
	h = e.household("wang")
	mem = h.Members()[0]
	if h.Risk() != domain.RiskRed || len(h.Visits()) != 1 || h.Version() != 8 || !h.Erased() {
		t.Fatalf("household after erasure: %+v", h)
	}
	if h.Class() != domain.ErasedText || h.Category() != domain.ErasedText || !slices.Equal(h.Circumstances(), []domain.Circumstance{domain.ErasedText}) {
		t.Fatalf("labels after erasure: class %q category %q circumstances %q", h.Class(), h.Category(), h.Circumstances())
	}
	for _, f := range []domain.Sealed{mem.IDNumber, mem.Phone, mem.Income, mem.Health, h.Visits()[0].Understandings.Economic} {
		if r, err := domain.Reveal(context.Background(), e.vault, "wang", f); err != nil || !r.Given || !r.Erased || r.Value != "" {
			t.Fatalf("reveal after erasure: %+v %v", r, err)
		}
	}
	for _, tok := range []string{mem.Name, mem.BirthDate, h.Address(), h.Visits()[0].Summary, e.problem(pid).Description()} {
		if r, err := domain.OpenText(ctx, e.vault, tok); err != nil || !r.Given || !r.Erased || r.String() != "[erased]" {
			t.Fatalf("sealed text after erasure: %+v %v", r, err)
		}
	}
	if n, err := eventstore.VerifyAll(ctx, e.store, nil); err != nil || n < len(e.stream(domain.HouseholdStream("wang")))+len(e.stream(domain.ProblemStream(pid))) {
		t.Fatalf("hash chains after erasure: %d events, %v", n, err)
	}
	// No new personal data for an erased household, text included; records
	// without personal data go on.
	r, err := e.svc.AddMember(ctx, cmd(t, "m2", staffName, "2026-03-03 09:00"), "wang", "m2", command.Member{Name: "新成员", Relation: "子女", Phone: "13700000000"})
	fails(t, r, err, "household_erased", domain.ErrErased)
	r, err = e.svc.RecordVisit(ctx, cmd(t, "v2", staffName, "2026-03-09 12:00"), "wang", command.Visit{VisitID: "v2", Team: []string{staffName},
		OccurredAt: at(t, "2026-03-09 10:00"), Mode: domain.ModePhone, Outcome: domain.OutcomeCompleted, HomeSafety: "已清理"})
	fails(t, r, err, "household_erased", domain.ErrErased)
	// Nothing decides on the erased labels: their changes cannot be sealed.
	r, err = e.svc.ChangeCategory(ctx, cmd(t, "cat2", staffName, "2026-03-03 09:30"), "wang", domain.CategoryNone, "退出")
	fails(t, r, err, "household_erased", domain.ErrErased)
	r, err = e.svc.ChangeClass(ctx, cmd(t, "class2", staffName, "2026-03-03 09:40"), "wang", domain.ClassOrdinary, "复查")
	fails(t, r, err, "household_erased", domain.ErrErased)
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "v3", staffName, "2026-03-09 12:00"), "wang", command.Visit{VisitID: "v3", Team: []string{staffName},
		OccurredAt: at(t, "2026-03-09 10:00"), Mode: domain.ModePhone, Outcome: domain.OutcomeCompleted}))

	// After a restart (the WAL checkpointed into the main file) the
	// plaintext is still nowhere, and neither is anything of the key.
	e.restart()
	raw = append(e.dbBytes(), e.keyBytes()...)
	if !bytes.Contains(raw, []byte(staffName)) {
		t.Fatal("control: the worker's name should still be in the database files")
	}
	for _, s := range append(secrets, "13700000000", "已清理") {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("plaintext %q found in the database files after erasure", s)
		}
	}
	keyFiles, _ := filepath.Glob(filepath.Join(e.dir, "keys", "*.key"))
	if len(keyFiles) != 3 { // the household's, its member's and the search index's
		t.Fatalf("%d key files", len(keyFiles))
	}
	index := sha256.Sum256([]byte(domain.SearchIndexSubject))
	for _, kf := range keyFiles {
		if filepath.Base(kf) == hex.EncodeToString(index[:])+".key" {
			continue // the deployment's search bucket key: no household's
		}
		if kb, _ := os.ReadFile(kf); bytes.Contains(kb, []byte(`"secret"`)) {
			t.Fatal("a key file still holds a secret after erasure")
		}
	}
	if n, err := eventstore.VerifyAll(ctx, e.store, nil); err != nil || n == 0 {
		t.Fatalf("verify after restart: %d %v", n, err)
	}
}

// keyBytes returns the bytes of every file of the key store.
func (e *env) keyBytes() []byte {
	e.t.Helper()
	var all []byte
	files, _ := filepath.Glob(filepath.Join(e.dir, "keys", "*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			all = append(all, b...)
		}
	}
	return all
}
