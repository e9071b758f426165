// Package sim is a test helper: it writes a small synthetic town to an event
// store for the projection and deadline tests and benchmarks. It does not
// generate anything itself. The town comes from package town (the one
// synthetic-town generator, whose events come out of the domain's command
// methods and are enveloped by eventlog), configured small (a given number
// of households spread over a given number of communities, nine months from
// 2026-01-01); the deadline alerts that fell due in that span are then
// recorded by the real deadline watcher through the command path, at the end
// of the span, as a watcher that catches up would record them.
//
// Keys is a toy Sealer/Opener for tests, used by the town and by readers.
package sim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/deadline"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/town"
)

// Config of a small town.
type Config struct {
	Households  int
	Communities int // default 10
	Seed        uint64
	Months      int // default 9, from 2026-01-01 (inside the shipped 2026 calendar)
	Workers     int // concurrent appends; default 8
}

// Keys is a toy Sealer/Opener (base64 with a key id): enough to test that
// sealed fields are stored sealed and revealed only through an Opener.
// Erased households make Open fail with domain.ErrErased.
type Keys struct {
	mu     sync.Mutex
	erased map[string]bool
}

// NewKeys returns an empty key set.
func NewKeys() *Keys { return &Keys{erased: map[string]bool{}} }

// Seal implements domain.Sealer.
func (k *Keys) Seal(_ context.Context, householdID string, p []byte) (domain.Sealed, error) {
	return domain.Sealed{KeyID: "k-" + householdID, Ciphertext: []byte(base64.StdEncoding.EncodeToString(p))}, nil
}

// Open implements domain.Opener.
func (k *Keys) Open(_ context.Context, householdID string, s domain.Sealed) ([]byte, error) {
	k.mu.Lock()
	erased := k.erased[householdID]
	k.mu.Unlock()
	if erased {
		return nil, domain.ErrErased
	}
	if s.KeyID != "k-"+householdID {
		return nil, errors.New("sim: wrong key")
	}
	return base64.StdEncoding.DecodeString(string(s.Ciphertext))
}

// Erase destroys a household's key.
func (k *Keys) Erase(householdID string) {
	k.mu.Lock()
	k.erased[householdID] = true
	k.mu.Unlock()
}

// Supervisor returns the supervisor the simulated town's alerts go to for
// a community.
func Supervisor(community string) string { return "sup-" + community }

// Stats counts what was written: Events includes the alerts.
type Stats struct {
	Events, Households, Problems, Referrals, Alerts int64
	Town                                            town.Stats
}

// TownConfig returns the town.Config Write generates for cfg (with the
// defaults filled in), and the end of its span.
func TownConfig(cfg Config) (town.Config, error) {
	if cfg.Households < 1 {
		return town.Config{}, errors.New("sim: Households must be at least 1")
	}
	if cfg.Communities <= 0 {
		cfg.Communities = 10
	}
	if cfg.Months <= 0 {
		cfg.Months = 9
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	loc, err := calendar.LoadLocation(calendar.DefaultTimeZone)
	if err != nil {
		return town.Config{}, err
	}
	tc := town.DefaultConfig(cfg.Seed, cfg.Households)
	tc.Location = loc
	tc.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	tc.End = tc.Start.AddDate(0, cfg.Months, 0)
	tc.HouseholdsPerCommunity = (cfg.Households + cfg.Communities - 1) / cfg.Communities
	tc.Sealer = NewKeys()
	tc.WriteConcurrency = cfg.Workers
	return tc, tc.Validate()
}

// Write generates the town with package town, appends it to s, then
// records the deadline alerts due by the end of the span with the deadline
// watcher.
func Write(ctx context.Context, s eventstore.Store, cfg Config) (Stats, error) {
	tc, err := TownConfig(cfg)
	if err != nil {
		return Stats{}, err
	}
	ts, err := town.Write(ctx, s, tc)
	st := Stats{Events: int64(ts.Events), Households: int64(ts.Households), Problems: int64(ts.Problems), Referrals: int64(ts.Referrals), Town: ts}
	if err != nil {
		return st, err
	}
	pols, err := domain.DefaultPolicySet()
	if err != nil {
		return st, err
	}
	cal, err := calendar.Default()
	if err != nil {
		return st, err
	}
	// The town seals the class (decision 0148): the watcher's command path
	// opens it with the town's keys.
	svc, err := command.New(command.Config{Store: s, Policies: pols, Calendar: cal, Opener: tc.Sealer.(domain.Opener)})
	if err != nil {
		return st, err
	}
	w, err := deadline.New(deadline.Config{Store: s, Policies: pols, Calendar: cal, Commands: svc,
		Supervisor: func(sub deadline.Subject) string { return Supervisor(sub.Community) }})
	if err != nil {
		return st, err
	}
	if err := w.Sync(ctx); err != nil {
		return st, fmt.Errorf("sim: deadline watcher: %w", err)
	}
	// A clock whose warning and breach both fell due is alerted once per
	// Fire; a few rounds record every stage (a clock has two).
	for round := 0; round < 4; round++ {
		n, err := w.Fire(ctx, tc.End)
		st.Alerts += int64(n)
		st.Events += int64(n)
		if err != nil {
			return st, fmt.Errorf("sim: deadline watcher: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return st, nil
}
