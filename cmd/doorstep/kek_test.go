package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorstep/doorstep/cloudevent"
	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/internal/pgtest"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/webhook"
)

// registerWithPhone writes a household with a sensitive field, so that it
// gets a data key, and returns that key in clear.
func registerWithPhone(t *testing.T, rt *runtime, id string) []byte {
	t.Helper()
	ctx := context.Background()
	c := command.Cmd{ID: "reg-" + id, Actor: "李四", Role: domain.RoleGridWorker}
	if _, err := rt.app.RegisterHousehold(ctx, c, id, domain.RegisterHousehold{Address: "路 " + id, Community: "C1", Grid: "G1",
		ResponsibleWorker: "李四", Class: domain.ClassKey, Risk: domain.RiskYellow}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.app.RecordConsent(ctx, command.Cmd{ID: "c-" + id, Actor: "李四", Role: domain.RoleGridWorker}, id, true, "all", "签字同意"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.app.AddMember(ctx, command.Cmd{ID: "m-" + id, Actor: "李四", Role: domain.RoleGridWorker}, id, "m1",
		command.Member{Name: "王师傅", Relation: "本人", Phone: "13800000000"}); err != nil {
		t.Fatal(err)
	}
	// The member's fields are sealed under the member's own key (decision 0100).
	k, err := keystore.WithKEK(mustFileStore(t, rt.dir), mustRing(t, rt.dir)).Get(ctx, domain.MemberSubject(id, "m1"))
	if err != nil || len(k.Secret) != keystore.KeySize {
		t.Fatalf("data key of %s: %v", id, err)
	}
	return k.Secret
}

func mustFileStore(t *testing.T, dir string) *keystore.FileStore {
	t.Helper()
	s, err := keystore.OpenFileStore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRing(t *testing.T, dir string) *keystore.KEKRing {
	t.Helper()
	k, err := keystore.ReadKEKFile(filepath.Join(dir, KEKFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := keystore.NewKEKRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noneHolds fails if any file under dir (the databases with their WAL,
// the key directory, the logs) holds s.
func noneHolds(t *testing.T, dir, s string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s holds %q in clear", p, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// noKeyInClear fails if any file of the key directory holds a key in
// clear (its bytes or base64, as JSON writes bytes).
func noKeyInClear(t *testing.T, dir string, keys ...[]byte) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "keys"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("key directory: %v", err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "keys", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if bytes.Contains(b, k) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(k))) {
				t.Fatalf("%s holds a data key in clear", e.Name())
			}
		}
	}
}

// The embedded default with no KEK configured (doorstep demo without any
// configuration): a KEK is generated beside the data, 0600, used again at
// the next start; the data keys are wrapped. A key directory from before
// KEKs is upgraded at start. Rotation with doorstep keys rotate-kek leaves
// the data readable with the new KEK alone.
func TestEmbeddedKEK(t *testing.T) {
	t.Setenv(kekEnv, "")
	dir := t.TempDir()
	ctx := context.Background()
	// A key directory written before KEKs: a key in clear.
	legacy := bytes.Repeat([]byte{9}, keystore.KeySize)
	if err := mustFileStore(t, dir).Create(ctx, keystore.Key{HouseholdID: "old", KeyID: "k-old", Secret: legacy, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	rt, err := openRuntime(ctx, dir, storeConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, KEKFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated KEK: %v %v", fi, err)
	}
	k1 := registerWithPhone(t, rt, "zhang")
	rt.Close()
	noKeyInClear(t, dir, k1, legacy)
	// The next start uses the same KEK: the household still opens.
	rt, err = openRuntime(ctx, dir, storeConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.vault.Open(ctx, "zhang", mustSealed(t, rt, "zhang")); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	rt.Close()

	// A webhook subscription: its signing secret is wrapped at rest too
	// (decision 0126), and the rotation below rewraps it.
	rt, err = openRuntime(ctx, dir, storeConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := cloudevent.NewEncoder("", "")
	if err != nil {
		t.Fatal(err)
	}
	wm, err := webhook.New(rt.webhookConfig(enc, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := wm.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sub, secret, err := wm.Create(ctx, webhook.Request{URL: "http://127.0.0.1:9/hook"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	noneHolds(t, dir, strings.TrimPrefix(secret, "whsec_"))

	// Rotation.
	newKEK := filepath.Join(t.TempDir(), "new.kek")
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"keys", "new-kek", "-o", newKEK}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"keys", "rotate-kek", "-data", dir, "-kek-file", newKEK, "-kek-old-file", filepath.Join(dir, KEKFile)}, &out, &errOut); err != nil || !strings.Contains(out.String(), "rewrapped 4 data keys and 1 webhook signing secrets") {
		// "old", zhang's member's, and since decision 0108 zhang's own (its
		// address is sealed) and the deployment's search key.
		t.Fatalf("rotate-kek: %v\n%s%s", err, out.String(), errOut.String())
	}
	os.Remove(filepath.Join(dir, KEKFile))
	rt, err = openRuntime(ctx, dir, storeConfig{KEKFile: newKEK}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.vault.Open(ctx, "zhang", mustSealed(t, rt, "zhang")); err != nil {
		t.Fatalf("with the new KEK alone: %v", err)
	}
	noKeyInClear(t, dir, k1, legacy)
	if got, err := webhook.NewStore(rt.db, rt.dialect, nil).WithSecrets(rt.kek).Secret(ctx, sub.ID); err != nil || got != secret {
		t.Fatalf("the webhook secret with the new KEK alone: %q, %v", got, err)
	}
	noneHolds(t, dir, strings.TrimPrefix(secret, "whsec_"))
	// The wrong KEK opens nothing, and says so.
	other := filepath.Join(t.TempDir(), "other.kek")
	if err := run(ctx, []string{"keys", "new-kek", "-o", other}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if _, err := openRuntime(ctx, dir, storeConfig{KEKFile: other}, nil); !errors.Is(err, keystore.ErrKEK) {
		t.Fatalf("the wrong KEK: %v, want ErrKEK", err)
	}
}

// mustSealed returns a sealed field of the household, read from its events.
func mustSealed(t *testing.T, rt *runtime, id string) domain.Sealed {
	t.Helper()
	h, err := rt.app.Household(context.Background(), id, domain.AsOf{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.Members() {
		if !m.Phone.IsZero() {
			return m.Phone
		}
	}
	t.Fatal("no sealed phone")
	return domain.Sealed{}
}

// On PostgreSQL a KEK is required: nodes that generated their own could
// not read each other's keys.
func TestPostgresNeedsAKEK(t *testing.T) {
	t.Setenv(kekEnv, "")
	_, err := openRuntime(context.Background(), t.TempDir(), storeConfig{URL: pgtest.SharedURL(), Schema: "kek_required_unused"}, nil)
	if err == nil || !strings.Contains(err.Error(), "-kek-file") || !strings.Contains(err.Error(), "密钥") {
		t.Fatalf("PostgreSQL without a KEK: %v", err)
	}
}
