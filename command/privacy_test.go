package command_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
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

func TestSensitiveFieldsEncryptedAndErasable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const (
		idNumber = "110101194801010023"
		phone    = "13912345678"
		income   = "月收入八百元整"
		health   = "尿毒症每周透析三次"
		economic = "靠低保和亲戚接济度日"
		name     = "王师傅本人姓名"
	)
	e.register("wang", domain.ClassKey, domain.RiskYellow, "2026-03-02 09:00")
	ok(t)(e.svc.AddMember(ctx, cmd(t, "m1", "网格员小李", "2026-03-02 09:30"), "wang", "m1",
		command.Member{Name: name, Relation: "本人", IDNumber: idNumber, Phone: phone, Income: income, Health: health}))
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "v1", "网格员小李", "2026-03-02 12:00"), "wang", evidence(command.Visit{VisitID: "v1", Team: []string{"网格员小李"},
		OccurredAt: at(t, "2026-03-02 10:00"), Mode: domain.ModeHome, Outcome: domain.OutcomeCompleted, Economic: economic, HomeSafety: "楼道堆物"})))
	ok(t)(e.svc.ChangeRisk(ctx, cmd(t, "r1", "网格员小李", "2026-03-02 12:30"), "wang", domain.RiskRed, "病情加重"))
	secrets := []string{idNumber, phone, income, health, economic}

	// Encrypted from the start: the plaintext never reaches the database,
	// while the unencrypted name (the positive control) does.
	raw := e.dbBytes()
	if !bytes.Contains(raw, []byte(name)) {
		t.Fatal("control: the member's name should be readable in the database files; the grep is not looking at the data")
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("plaintext %q found in the database files before erasure", s)
		}
	}
	h := e.household("wang")
	mem := h.Members()[0]
	for _, f := range []struct {
		sealed domain.Sealed
		want   string
	}{{mem.IDNumber, idNumber}, {mem.Phone, phone}, {mem.Income, income}, {mem.Health, health}, {h.Visits()[0].Understandings.Economic, economic}} {
		if r, err := domain.Reveal(context.Background(), e.vault, "wang", f.sealed); err != nil || r.Value != f.want {
			t.Fatalf("reveal before erasure: %+v %v", r, err)
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
	eraseHousehold(t, e, "wang", "2026-03-02 13:00")
	// The events stay and still decode; the sealed fields read as erased.
	h = e.household("wang")
	mem = h.Members()[0]
	if mem.Name != name || h.Risk() != domain.RiskRed || len(h.Visits()) != 1 || h.Version() != 8 || !h.Erased() {
		t.Fatalf("household after erasure: %+v", h)
	}
	for _, f := range []domain.Sealed{mem.IDNumber, mem.Phone, mem.Income, mem.Health, h.Visits()[0].Understandings.Economic} {
		if r, err := domain.Reveal(context.Background(), e.vault, "wang", f); err != nil || !r.Given || !r.Erased || r.Value != "" {
			t.Fatalf("reveal after erasure: %+v %v", r, err)
		}
	}
	if n, err := eventstore.VerifyAll(ctx, e.store, nil); err != nil || n != len(e.stream(domain.HouseholdStream("wang"))) {
		t.Fatalf("hash chains after erasure: %d events, %v", n, err)
	}
	// No new personal data for an erased household; other records go on.
	r, err := e.svc.AddMember(ctx, cmd(t, "m2", "网格员小李", "2026-03-03 09:00"), "wang", "m2", command.Member{Name: "新成员", Relation: "子女", Phone: "13700000000"})
	fails(t, r, err, "household_erased", domain.ErrErased)
	ok(t)(e.svc.RecordVisit(ctx, cmd(t, "v2", "网格员小李", "2026-03-09 12:00"), "wang", command.Visit{VisitID: "v2", Team: []string{"网格员小李"},
		OccurredAt: at(t, "2026-03-09 10:00"), Mode: domain.ModePhone, Outcome: domain.OutcomeCompleted, HomeSafety: "已清理"}))

	// After a restart (the WAL checkpointed into the main file) the
	// plaintext is still nowhere, and neither is anything of the key.
	e.restart()
	raw = e.dbBytes()
	if !bytes.Contains(raw, []byte(name)) {
		t.Fatal("control: the name should still be in the database files")
	}
	for _, s := range append(secrets, "13700000000") {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("plaintext %q found in the database files after erasure", s)
		}
	}
	keyFiles, _ := filepath.Glob(filepath.Join(e.dir, "keys", "*.key"))
	if len(keyFiles) != 2 { // the household's and its member's
		t.Fatalf("%d key files", len(keyFiles))
	}
	for _, kf := range keyFiles {
		if kb, _ := os.ReadFile(kf); bytes.Contains(kb, []byte(`"secret"`)) {
			t.Fatal("a key file still holds a secret after erasure")
		}
	}
	if n, err := eventstore.VerifyAll(ctx, e.store, nil); err != nil || n == 0 {
		t.Fatalf("verify after restart: %d %v", n, err)
	}
}
