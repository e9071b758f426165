package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/identity"
	"github.com/doorstep/doorstep/internal/pgtest"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// cheap are parameters that keep the tests fast; the default parameters
// are exercised by TestRehashWithNewParameters.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func openFile(t *testing.T) *Users {
	t.Helper()
	u, err := OpenFile(context.Background(), filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

func openPG(t *testing.T) *Users {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "account_test_" + hex.EncodeToString(b)
	pool, err := pgxpool.New(ctx, pgtest.SharedURL())
	if err != nil {
		t.Fatalf("PostgreSQL (%s) is needed: %v", pgtest.SharedURL(), err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		pool.Close()
	})
	u, err := NewPostgres(ctx, pool, schema)
	if err != nil {
		t.Fatalf("PostgreSQL (%s) is needed: %v", pgtest.SharedURL(), err)
	}
	t.Cleanup(u.Close)
	return u
}

var worker = identity.Principal{Name: "李四", Role: identity.RoleWorker, Grids: []string{"示范网格"}, Sensitive: true}

func eachStore(t *testing.T, f func(t *testing.T, u *Users, c *testClock)) {
	for name, open := range map[string]func(*testing.T) *Users{"file": openFile, "postgres": openPG} {
		t.Run(name, func(t *testing.T) {
			c := &testClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
			u := open(t).WithClock(c.now)
			u.params = cheap
			f(t, u, c)
		})
	}
}

func TestSignInLockOutAndRecord(t *testing.T) {
	eachStore(t, func(t *testing.T, u *Users, c *testClock) {
		ctx := context.Background()
		const pw = "correct horse battery"
		if err := u.Add(ctx, "lisi", worker, pw, "admin", time.Time{}); err != nil {
			t.Fatal(err)
		}
		p, err := u.Authenticate(ctx, "lisi", pw)
		if err != nil || p.Name != "李四" || p.Role != identity.RoleWorker || p.Grids[0] != "示范网格" {
			t.Fatalf("sign in: %+v %v", p, err)
		}
		for i := range MaxFailures {
			c.add(time.Second) // the record orders by instant
			if _, err := u.Authenticate(ctx, "lisi", "wrong password "+string(rune('a'+i))); !errors.Is(err, ErrSignInFailed) {
				t.Fatalf("failure %d: %v", i, err)
			}
		}
		// Locked: even the right password fails, and says no more than a wrong one.
		c.add(time.Second)
		_, err = u.Authenticate(ctx, "lisi", pw)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != "sign_in_failed" || de.MessageZH == "" {
			t.Fatalf("locked: %v", err)
		}
		if x, _ := u.Get(ctx, "lisi"); x.State != "locked" || x.Failures != MaxFailures {
			t.Fatalf("state %+v", x)
		}
		c.add(LockFor - 2*time.Second) // the lock runs from the fifth failure, 1 s before the last attempt
		if _, err := u.Authenticate(ctx, "lisi", pw); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("a second before the lock ends: %v", err)
		}
		c.add(time.Second)
		if _, err := u.Authenticate(ctx, "lisi", pw); err != nil {
			t.Fatalf("after the lock: %v", err)
		}
		if x, _ := u.Get(ctx, "lisi"); x.State != "active" || x.Failures != 0 || !x.LastSignIn.Equal(c.now()) {
			t.Fatalf("after success %+v", x)
		}
		// An unknown login is recorded without what was typed.
		c.add(time.Second)
		if _, err := u.Authenticate(ctx, "my secret password", "x"); !errors.Is(err, ErrSignInFailed) {
			t.Fatal(err)
		}
		ins, err := u.SignIns(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, s := range ins {
			outcomes = append(outcomes, s.Login+":"+s.Outcome)
			if strings.Contains(s.Login, "secret") {
				t.Fatalf("recorded the typed login: %+v", s)
			}
		}
		want := ":unknown_login lisi:ok lisi:locked lisi:locked lisi:bad_password lisi:bad_password lisi:bad_password lisi:bad_password lisi:bad_password lisi:ok"
		if got := strings.Join(outcomes, " "); got != want {
			t.Fatalf("record:\n got %s\nwant %s", got, want)
		}
	})
}

func TestDisableEnableExpire(t *testing.T) {
	eachStore(t, func(t *testing.T, u *Users, c *testClock) {
		ctx := context.Background()
		const pw = "another long password"
		if err := u.Add(ctx, "lisi", worker, pw, "admin", c.now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var de *domain.Error
		if err := u.Add(ctx, "lisi", worker, pw, "admin", time.Time{}); !errors.As(err, &de) || de.Code != "user_exists" {
			t.Fatalf("duplicate: %v", err)
		}
		if err := u.Disable(ctx, "lisi", "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Authenticate(ctx, "lisi", pw); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("disabled: %v", err)
		}
		if err := u.Enable(ctx, "lisi"); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Authenticate(ctx, "lisi", pw); err != nil {
			t.Fatalf("enabled: %v", err)
		}
		c.add(time.Hour)
		if _, err := u.Authenticate(ctx, "lisi", pw); !errors.Is(err, ErrSignInFailed) {
			t.Fatalf("expired: %v", err)
		}
		list, _ := u.List(ctx)
		if len(list) != 1 || list[0].State != "expired" {
			t.Fatalf("list %+v", list)
		}
		if err := u.Disable(ctx, "nobody", "admin"); !errors.As(err, &de) || de.Code != "user_not_found" {
			t.Fatalf("unknown: %v", err)
		}
	})
}

func TestAddValidates(t *testing.T) {
	u := openFile(t)
	u.params = cheap
	ctx := context.Background()
	for _, c := range []struct {
		login, pw string
		p         identity.Principal
		code      string
	}{
		{"Li Si", "long enough password", worker, "invalid_login"},
		{"-lisi", "long enough password", worker, "invalid_login"},
		{strings.Repeat("a", MaxLoginLen+1), "long enough password", worker, "invalid_login"},
		{"lisi", "short", worker, "invalid_password"},
		{"lisi", strings.Repeat("x", MaxPasswordLen+1), worker, "invalid_password"},
		{"lisi", "long enough password", identity.Principal{Name: "x", Role: identity.RoleWorker}, "required"},
	} {
		var de *domain.Error
		if err := u.Add(ctx, c.login, c.p, c.pw, "admin", time.Time{}); !errors.As(err, &de) || de.Code != c.code || de.MessageZH == "" {
			t.Errorf("%q: %v, want %s", c.login, err, c.code)
		}
	}
}

func TestRehashWithNewParameters(t *testing.T) {
	u := openFile(t)
	ctx := context.Background()
	u.params = cheap
	if err := u.Add(ctx, "lisi", worker, "a long password here", "admin", time.Time{}); err != nil {
		t.Fatal(err)
	}
	u.params = DefaultParams
	if _, err := u.Authenticate(ctx, "lisi", "a long password here"); err != nil {
		t.Fatal(err)
	}
	var enc string
	if err := u.db.QueryRow(`SELECT password FROM users WHERE login = 'lisi'`).Scan(&enc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("not re-hashed: %s", enc)
	}
	if _, err := u.Authenticate(ctx, "lisi", "a long password here"); err != nil {
		t.Fatal(err)
	}
}
