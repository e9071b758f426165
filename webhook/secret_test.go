package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/testenv"
	"github.com/doorstep/doorstep/keystore"
	"github.com/doorstep/doorstep/webhook"
)

func ring(t *testing.T, keys ...[]byte) *keystore.KEKRing {
	t.Helper()
	r, err := keystore.NewKEKRing(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stored reads what the database holds for a subscription's secret.
func stored(t *testing.T, env *testenv.Env, id string) string {
	t.Helper()
	var s string
	if err := env.DB.QueryRowContext(context.Background(), env.Dialect.Rebind(`SELECT secret FROM webhook_subscriptions WHERE id = ?`), id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Signing secrets at rest (decision 0126): wrapped under the KEK and bound
// to their subscription; one written in clear before wrapping still reads
// and is wrapped by RewrapSecrets; a rotation started with the old KEK
// rewraps every secret under the new one, which alone then opens them; the
// wrong KEK, no KEK, or a wrapped value moved to another subscription
// opens nothing and says why.
func TestSecretsWrappedAtRest(t *testing.T) {
	ctx := context.Background()
	env := testenv.New(t)
	if err := webhook.Init(ctx, env.DB, env.Dialect); err != nil {
		t.Fatal(err)
	}
	k1, k2, k3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	r1 := ring(t, k1)
	create := func(st *webhook.Store) (string, string) {
		t.Helper()
		sub, secret, err := st.Create(ctx, webhook.Request{URL: "http://127.0.0.1:9/hook"}, "admin", eventstore.Position{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return sub.ID, secret
	}
	wrapped := webhook.NewStore(env.DB, env.Dialect, nil).WithSecrets(r1)
	a, secA := create(wrapped)
	raw := stored(t, env, a)
	if strings.Contains(raw, strings.TrimPrefix(secA, "whsec_")) || strings.HasPrefix(raw, "whsec_") {
		t.Fatalf("the secret is stored in clear: %q", raw)
	}
	if id, ok := keystore.SecretKEKID(raw); !ok || id != r1.CurrentID() {
		t.Fatalf("stored %q: under %q, want %q", raw, id, r1.CurrentID())
	}
	if got, err := wrapped.Secret(ctx, a); err != nil || got != secA {
		t.Fatalf("Secret = %q, %v; want the secret given at creation", got, err)
	}

	// A subscription from before wrapping: in clear; it reads, and the next
	// RewrapSecrets wraps it (and only it).
	b, secB := create(webhook.NewStore(env.DB, env.Dialect, nil))
	if stored(t, env, b) != secB {
		t.Fatal("a store without a KEK wrote the secret wrapped")
	}
	if got, err := wrapped.Secret(ctx, b); err != nil || got != secB {
		t.Fatalf("a secret in clear reads %q, %v", got, err)
	}
	if n, err := wrapped.RewrapSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("RewrapSecrets = %d, %v; want 1", n, err)
	}
	if _, ok := keystore.SecretKEKID(stored(t, env, b)); !ok {
		t.Fatal("the secret in clear was not wrapped")
	}

	// Rotation: new KEK with the old one accepted, then the new one alone.
	if n, err := webhook.NewStore(env.DB, env.Dialect, nil).WithSecrets(ring(t, k2, k1)).RewrapSecrets(ctx); err != nil || n != 2 {
		t.Fatalf("rotation: RewrapSecrets = %d, %v; want 2", n, err)
	}
	only2 := webhook.NewStore(env.DB, env.Dialect, nil).WithSecrets(ring(t, k2))
	for id, want := range map[string]string{a: secA, b: secB} {
		if got, err := only2.Secret(ctx, id); err != nil || got != want {
			t.Fatalf("after rotation, %s reads %q, %v", id, got, err)
		}
	}
	if n, err := only2.RewrapSecrets(ctx); err != nil || n != 0 {
		t.Fatalf("nothing left to rewrap: %d, %v", n, err)
	}

	// The wrong KEK, and no KEK at all.
	if _, err := webhook.NewStore(env.DB, env.Dialect, nil).WithSecrets(ring(t, k3)).Secret(ctx, a); !errors.Is(err, keystore.ErrKEK) || !strings.Contains(err.Error(), "-kek-old-file") {
		t.Fatalf("the wrong KEK: %v", err)
	}
	if _, err := webhook.NewStore(env.DB, env.Dialect, nil).Secret(ctx, a); err == nil || !strings.Contains(err.Error(), "-kek-file") {
		t.Fatalf("no KEK: %v", err)
	}

	// A wrapped value copied to another subscription does not open there.
	if _, err := env.DB.ExecContext(ctx, env.Dialect.Rebind(`UPDATE webhook_subscriptions SET secret = ? WHERE id = ?`), stored(t, env, a), b); err != nil {
		t.Fatal(err)
	}
	if _, err := only2.Secret(ctx, b); !errors.Is(err, keystore.ErrKEK) {
		t.Fatalf("a secret moved to another subscription opened: %v", err)
	}
}
