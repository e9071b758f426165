package keystore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/domain"
)

// A member's own key (decision 0100): sealed under the member's subject,
// opened with the household id alone, erased alone; the household's
// erasure stops new member keys.
func TestMemberKeys(t *testing.T) {
	ctx := context.Background()
	v, _ := mustVault(t, t.TempDir())
	m1, err := v.Seal(ctx, domain.MemberSubject("h1", "m1"), []byte("13900000001"))
	if err != nil || !strings.HasPrefix(m1.KeyID, domain.MemberKeyPrefix) || !strings.HasSuffix(m1.KeyID, "-m1") {
		t.Fatalf("member seal: %+v %v", m1, err)
	}
	hh, err := v.Seal(ctx, "h1", []byte("低保"))
	if err != nil || hh.KeyID == m1.KeyID {
		t.Fatalf("household seal: %+v %v", hh, err)
	}
	if b, err := v.Open(ctx, "h1", m1); err != nil || string(b) != "13900000001" {
		t.Fatalf("open a member's value with the household id: %q %v", b, err)
	}
	if _, err := v.Open(ctx, "h2", m1); err == nil {
		t.Fatal("a member's value opened for another household")
	}
	if err := v.Erase(ctx, domain.MemberSubject("h1", "m1")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(ctx, "h1", m1); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("open an erased member's value: %v", err)
	}
	if e, err := v.Erased(ctx, "h1", m1); err != nil || !e {
		t.Fatalf("Erased(member) = %v %v", e, err)
	}
	if e, err := v.Erased(ctx, "h1", hh); err != nil || e {
		t.Fatalf("Erased(household) before its erasure = %v %v", e, err)
	}
	if b, err := v.Open(ctx, "h1", hh); err != nil || string(b) != "低保" {
		t.Fatalf("the household's value after a member's erasure: %q %v", b, err)
	}
	var de *domain.Error
	if _, err := v.Seal(ctx, domain.MemberSubject("h1", "m1"), []byte("x")); !errors.As(err, &de) || !errors.Is(err, domain.ErrErased) || !strings.Contains(de.MessageZH, "成员 m1") {
		t.Fatalf("seal for an erased member: %v", err)
	}
	// After the household's erasure no member gets a key.
	if err := v.Erase(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Seal(ctx, domain.MemberSubject("h1", "m2"), []byte("x")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("seal for a new member of an erased household: %v", err)
	}
	if _, err := v.Fingerprint(ctx, domain.MemberSubject("h1", "m3"), []byte("x")); !errors.Is(err, domain.ErrErased) {
		t.Fatalf("fingerprint for a new member of an erased household: %v", err)
	}
}
