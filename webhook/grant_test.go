package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/accesslog"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/webhook"
)

// specVerify checks a delivery's signature as the Standard Webhooks
// specification describes it, written from the specification and not with
// its library: the signed content is "<webhook-id>.<webhook-timestamp>.<body>",
// the key is the base64-decoded part of the secret after "whsec_", the
// signature is HMAC-SHA256 in base64, and webhook-signature is a
// space-separated list of "<version>,<signature>" of which one "v1" entry
// must match (compared in constant time).
func specVerify(secret string, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("a webhook-id, webhook-timestamp or webhook-signature header is missing")
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return fmt.Errorf("webhook-timestamp %q is not integer seconds", ts)
		}
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("the secret is not whsec_ + base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature in %q matches", sigs)
}

// The verifier written from the specification accepts what the library
// signs (one signature, or several space-separated with one valid) and
// refuses a changed body, id or timestamp.
func TestWebhookSpecVerifier(t *testing.T) {
	secret := webhook.NewSecret()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"e1"}`)
	h, err := webhook.Sign(secret, "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := specVerify(secret, h, body); err != nil {
		t.Fatalf("the library's signature: %v", err)
	}
	if h.Get("webhook-timestamp") != "1772355600" {
		t.Fatalf("webhook-timestamp %q, want the Unix seconds 1772355600", h.Get("webhook-timestamp"))
	}
	multi := h.Clone()
	multi.Set("webhook-signature", "v1,AAAA v2,xyz "+h.Get("webhook-signature"))
	if err := specVerify(secret, multi, body); err != nil {
		t.Fatalf("a list with one valid signature: %v", err)
	}
	if specVerify(secret, h, []byte(`{"id":"e2"}`)) == nil {
		t.Fatal("a changed body verified")
	}
	for _, hd := range []string{"webhook-id", "webhook-timestamp"} {
		x := h.Clone()
		x.Set(hd, x.Get(hd)+"1")
		if specVerify(secret, x, body) == nil {
			t.Fatalf("a changed %s verified", hd)
		}
	}
	if specVerify(webhook.NewSecret(), h, body) == nil {
		t.Fatal("another secret verified")
	}
}

// sealedEvent appends to household hh an event whose "phone" is data (a
// sealed value's JSON); it returns the head.
func sealedEvent(t testing.TB, st eventstore.Store, hh string, data []byte) eventstore.Position {
	t.Helper()
	res, err := st.Append(context.Background(), "household-"+hh, eventstore.Any(),
		eventstore.EventData{ID: eventstore.NewID(), Type: "household.contact_changed", Data: json.RawMessage(`{"phone":` + string(data) + `}`),
			Metadata: eventstore.Metadata{OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Community: "C1"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.LastPosition
}

// A subscription gets markers until an administrator grants it the sealed
// fields for a purpose; then the values (opened with the key vault) and
// each delivery that carried them is in the record of reveals with the
// purpose and the subscription as the actor; after the withdrawal, markers
// again; after the household's erasure, granted again, "erased". Grant,
// withdrawal and reveals are in the chained record, which verifies. Every
// delivery verifies with the library and with the verifier written from
// the specification (in receiver.serve).
func TestWebhookGrantOpensSealedFields(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	vault := keystore.New(keys, keystore.Config{})
	reveals, err := accesslog.OpenFile(filepath.Join(dir, "sensitive-reads.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reveals.Close() })
	f := newFixture(t, func(c *webhook.Config) { c.Opener, c.Reveals = vault, reveals })
	rc := newReceiver(t, func(int, string) int { return 0 })
	rc.strictTS = false
	sub, secret, err := f.m.Create(ctx, webhook.Request{URL: rc.srv.URL}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rc.setSecret(secret)
	f.run(t)
	admin := identity.Principal{Name: "ops-admin", Role: identity.RoleAdmin}

	sealed, err := domain.SealString(ctx, vault, "hh1", "13800138000")
	if err != nil {
		t.Fatal(err)
	}
	sealedJSON, _ := json.Marshal(sealed)
	phone := func(i int) string {
		t.Helper()
		_, acc, bad := rc.snapshot()
		if bad != 0 || len(acc) <= i {
			t.Fatalf("%d bad signatures, %d accepted, want event %d", bad, len(acc), i)
		}
		var data struct {
			Phone json.RawMessage `json:"phone"`
		}
		if err := json.Unmarshal(acc[i].Data(), &data); err != nil {
			t.Fatal(err)
		}
		return string(data.Phone)
	}

	// Before the grant: a marker.
	f.wait(t, sub.ID, sealedEvent(t, f.env.Store, "hh1", sealedJSON))
	if got := phone(0); got != `{"sealed":true}` {
		t.Fatalf("before the grant: %s", got)
	}

	// Refusals, in English and Chinese.
	for _, c := range []struct{ id, purpose, reason, code string }{
		{sub.ID, "curiosity", "r", "invalid_purpose"},
		{sub.ID, "", "r", "invalid_purpose"},
		{sub.ID, accesslog.PurposeStatutoryReport, " ", "grant_reason_required"},
		{"wh_nope", accesslog.PurposeStatutoryReport, "r", "webhook_not_found"},
	} {
		_, err := f.m.Grant(ctx, c.id, c.purpose, c.reason, admin)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != c.code || de.Message == "" || de.MessageZH == "" {
			t.Fatalf("grant %+v: %v", c, err)
		}
	}
	if _, err := f.m.Withdraw(ctx, sub.ID, "", admin); !isKind(err, domain.ErrConflict) {
		t.Fatalf("withdraw without a grant: %v", err)
	}

	// Granted: the value, and the reveal recorded.
	g, err := f.m.Grant(ctx, sub.ID, accesslog.PurposeStatutoryReport, "monthly report to the civil affairs bureau", admin)
	if err != nil || g.Grant == nil || g.Grant.Purpose != accesslog.PurposeStatutoryReport || g.Grant.By != "ops-admin" {
		t.Fatalf("grant: %+v %v", g, err)
	}
	if got, _ := f.m.Get(ctx, sub.ID); got.Grant == nil || got.Grant.Reason == "" {
		t.Fatalf("the grant is not stored: %+v", got)
	}
	f.wait(t, sub.ID, sealedEvent(t, f.env.Store, "hh1", sealedJSON))
	if got := phone(1); got != `{"value":"13800138000"}` {
		t.Fatalf("after the grant: %s", got)
	}

	// Withdrawn: a marker again.
	if w, err := f.m.Withdraw(ctx, sub.ID, "report sent", admin); err != nil || w.Grant != nil {
		t.Fatalf("withdraw: %+v %v", w, err)
	}
	f.wait(t, sub.ID, sealedEvent(t, f.env.Store, "hh1", sealedJSON))
	if got := phone(2); got != `{"sealed":true}` {
		t.Fatalf("after the withdrawal: %s", got)
	}

	// Erased household, granted again: erased.
	if err := vault.Erase(ctx, "hh1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Grant(ctx, sub.ID, accesslog.PurposeAudit, "audit of the erasure", admin); err != nil {
		t.Fatal(err)
	}
	f.wait(t, sub.ID, sealedEvent(t, f.env.Store, "hh1", sealedJSON))
	if got := phone(3); got != `{"erased":true}` {
		t.Fatalf("after the erasure: %s", got)
	}

	// The record: grant, reveal, withdrawal, grant, erased reveal (newest first).
	recs, err := reveals.Reveals(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ actor, hh, purpose, what string }
	want := []row{
		{"webhook:" + sub.ID, "hh1", accesslog.PurposeAudit, "delivered to webhook"},
		{"ops-admin", "", accesslog.PurposeAudit, "granted the sealed fields"},
		{"ops-admin", "", accesslog.PurposeStatutoryReport, "withdrawn: report sent"},
		{"webhook:" + sub.ID, "hh1", accesslog.PurposeStatutoryReport, "delivered to webhook"},
		{"ops-admin", "", accesslog.PurposeStatutoryReport, "granted the sealed fields"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r.Actor != w.actor || r.HouseholdID != w.hh || r.Purpose != w.purpose || !strings.Contains(r.What, w.what) || strings.Contains(r.What, "13800138000") {
			t.Fatalf("record %d: %+v, want %+v", i, r, w)
		}
	}
	if rep, err := reveals.Verify(ctx); err != nil || !rep.Verified || rep.Records != len(want) {
		t.Fatalf("chain: %+v %v", rep, err)
	}
}

// A manager without a key vault or a record of reveals refuses grants.
func TestWebhookGrantNeedsAVault(t *testing.T) {
	f := newFixture(t, nil)
	sub, _, err := f.m.Create(context.Background(), webhook.Request{URL: "https://receiver.example.org/h"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.m.Grant(context.Background(), sub.ID, accesslog.PurposeAudit, "r", identity.Principal{Name: "a", Role: identity.RoleAdmin})
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != "webhook_grant_unavailable" || de.MessageZH == "" {
		t.Fatalf("grant without a vault: %v", err)
	}
}
