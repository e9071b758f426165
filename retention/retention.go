// Package retention is the process manager that erases closed files when
// their retention period ends (issue 14 item 4, decision 0113). The policy
// in force says how long an archived household's file is kept
// (domain.RetentionRules); when that time has passed, the household is
// erased by the erasure path of decision 0100: a request and an approval by
// the system (legal basis retention_expired, the policy's version as
// reference), the data keys destroyed, the completion recorded
// (command.Service.ExpireRetention).
//
// Like the deadline watcher and the period closer it takes an injected
// clock, and it writes under deterministic ids: the command id and the
// request id derive from the household, so a second run, a restart or a
// second node finds the request made and at most completes it; a household
// erased already is skipped. Preview lists what would be erased, and when,
// without personal data (ids, community, instants, policy version).
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/command"
	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
)

// Clock gives the present (deadline.RealClock, or a test's).
type Clock interface{ Now() time.Time }

// Config configures a Manager.
type Config struct {
	Store    eventstore.Store
	Commands *command.Service // its policies, calendar and key store are used
	Clock    Clock
	// Poll is how often Run looks for files whose retention ended
	// (default one hour).
	Poll   time.Duration
	Logger *slog.Logger
}

// Item is a household whose file would be erased: when, and under which
// policy. It holds no personal data.
type Item struct {
	HouseholdID   string    `json:"household_id"`
	Community     string    `json:"community"`
	ArchivedAt    time.Time `json:"archived_at"`
	ErasesAt      time.Time `json:"erases_at"`
	PolicyVersion string    `json:"policy_version"`
	RequestID     string    `json:"request_id"`
}

// Manager finds archived households and erases those whose retention
// ended. Safe for concurrent use; run one Run per installation (on
// PostgreSQL, on the elected node).
type Manager struct {
	c Config

	mu       sync.Mutex
	pos      eventstore.Position // the log read so far
	archived map[string]string   // archived households not known erased → community
}

// New returns a Manager.
func New(c Config) (*Manager, error) {
	if c.Store == nil || c.Commands == nil || c.Clock == nil {
		return nil, errors.New("retention: store, commands and clock are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{c: c, archived: map[string]string{}}, nil
}

// namespace of retention request ids.
var namespace = uuid.MustParse("3c9b5f0e-6a43-4f0e-9d2b-0d7f4b1e2a61")

// RequestID is the erasure request id retention uses for a household.
func RequestID(householdID string) string {
	return "retention-" + uuid.NewSHA1(namespace, []byte(householdID)).String()
}

// scan reads the log from where it stopped and notes archived households.
func (m *Manager) scan(ctx context.Context) error {
	for {
		page, err := m.c.Store.ReadAll(ctx, m.pos, 2000)
		if err != nil {
			return fmt.Errorf("retention: read the log: %w", err)
		}
		for _, e := range page {
			if e.Type == domain.TypeHouseholdArchived && strings.HasPrefix(e.Stream, "household-") {
				m.archived[strings.TrimPrefix(e.Stream, "household-")] = e.Metadata.Community
			}
			m.pos = e.Position
		}
		if len(page) < 2000 {
			return nil
		}
	}
}

// maxPreview bounds the items Preview returns.
const maxPreview = 10000

// Preview lists the archived households whose retention ends by until,
// under the policy in force, oldest first; at most 10,000.
func (m *Manager) Preview(ctx context.Context, until time.Time) ([]Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.preview(ctx, until)
}

func (m *Manager) preview(ctx context.Context, until time.Time) ([]Item, error) {
	if err := m.scan(ctx); err != nil {
		return nil, err
	}
	pol, cal := m.c.Commands.Policies().Current(), m.c.Commands.Calendar()
	out := []Item{}
	for id, community := range m.archived {
		h, err := m.c.Commands.Household(ctx, id, domain.AsOf{})
		if err != nil {
			return nil, fmt.Errorf("retention: load household %s: %w", id, err)
		}
		if h.Erased() || !h.Archived() {
			delete(m.archived, id) // erased for good; a household is not unarchived
			continue
		}
		ends, ok := h.RetentionEnds(pol, cal)
		if !ok || ends.After(until) {
			continue
		}
		out = append(out, Item{HouseholdID: id, Community: community, ArchivedAt: h.ArchivedAt(), ErasesAt: ends,
			PolicyVersion: pol.Version, RequestID: RequestID(id)})
	}
	slices.SortFunc(out, func(a, b Item) int {
		if c := a.ErasesAt.Compare(b.ErasesAt); c != 0 {
			return c
		}
		return strings.Compare(a.HouseholdID, b.HouseholdID)
	})
	if len(out) > maxPreview {
		out = out[:maxPreview]
	}
	return out, nil
}

// EraseDue erases every household whose retention has ended and returns
// how many it erased.
func (m *Manager) EraseDue(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.c.Clock.Now()
	due, err := m.preview(ctx, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range due {
		c := command.Cmd{ID: "retention/" + it.HouseholdID + "/" + it.PolicyVersion, Actor: "retention", Role: domain.RoleSystem}
		res, err := m.c.Commands.ExpireRetention(ctx, c, it.HouseholdID, it.RequestID)
		if err != nil {
			return n, fmt.Errorf("retention: erase household %s: %w", it.HouseholdID, err)
		}
		if res.Events > 0 && !res.Replayed {
			n++
			m.c.Logger.Info("retention ended: household erased / 保存期满，已删除家庭个人信息", "household_id", it.HouseholdID,
				"archived_at", it.ArchivedAt, "policy", it.PolicyVersion)
		}
	}
	return n, nil
}

// Run erases due households now and then every Poll until ctx ends; it
// returns nil then, or the first error.
func (m *Manager) Run(ctx context.Context) error {
	poll := m.c.Poll
	if poll <= 0 {
		poll = time.Hour
	}
	after := time.After
	if a, ok := m.c.Clock.(interface {
		After(time.Duration) <-chan time.Time
	}); ok {
		after = a.After
	}
	for {
		if _, err := m.EraseDue(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-after(poll):
		}
	}
}
