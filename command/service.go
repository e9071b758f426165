package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/domain/calendar"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/internal/clock"
)

// Sealer is what the command layer needs of a key store: sealing sensitive
// fields with a household's data key, and a fingerprint keyed by that data
// key so a retried command carrying sensitive fields is recognised without
// storing a guessable hash of them. *keystore.Vault implements it.
type Sealer interface {
	domain.Sealer
	// Fingerprint returns a MAC of data under a key derived from the
	// household's data key; equal inputs give equal outputs while the key
	// exists. It fails (matching domain.ErrErased) once the key is erased.
	Fingerprint(ctx context.Context, householdID string, data []byte) ([]byte, error)
}

// Config wires a Service. Store is required; every other field has a default.
type Config struct {
	// Store is the event store commands append to.
	Store eventstore.Store
	// Policies holds the policy in force and older versions; default: the
	// shipped default policy alone.
	Policies *domain.PolicySet
	// Calendar is the base working-day calendar; default calendar.Default()
	// (the shipped years, Asia/Shanghai). Commands decide with it plus the
	// years published in the log (see CalendarInForce).
	Calendar *calendar.Calendar
	// Location is the community time zone command times are expressed in
	// (problem numbers take their year from it); default Calendar.Location().
	Location *time.Location
	// Sealer encrypts sensitive fields. Without one, a command carrying a
	// sensitive field is refused.
	Sealer Sealer
	// Opener opens the household labels sealed in the log (decision 0148)
	// when the service folds a household; default the Sealer when it opens
	// (the key vault). A service that only reads and records alerts (a test
	// town's deadline watcher) may be given an Opener without a Sealer.
	Opener domain.Opener
	// Clock gives the time of a command that does not carry one; default time.Now.
	Clock func() time.Time
	// NewID makes a command id for a command sent without one; default
	// eventstore.NewID (UUIDv7).
	NewID func() uuid.UUID
	// MaxAttempts bounds load–decide–save rounds per command when the
	// stream keeps moving under it; default 10.
	MaxAttempts int
	// Registry decodes stored events; default domain.NewRegistry().
	Registry *domain.Registry
	// CacheEvents bounds the events of recently loaded streams (stored and
	// decoded) the service keeps in memory, so that a command reads and
	// decodes only the events appended since it last loaded the stream;
	// default 100,000 (some 100 MB); negative disables the cache.
	CacheEvents int
}

// Validate reports what is missing or wrong in c.
func (c Config) Validate() error {
	if c.Store == nil {
		return errors.New("app: Config.Store is nil; give the event store commands append to")
	}
	if c.MaxAttempts < 0 {
		return errors.New("app: Config.MaxAttempts must not be negative")
	}
	return nil
}

// Service runs every domain command through load–decide–save: it folds the
// target aggregate from its stream, lets the domain decide, and appends the
// events with the stream's version as the expected version, retrying on a
// conflict up to Config.MaxAttempts times. Safe for concurrent use.
//
// Idempotency: every command carries a command id (Cmd.ID). Event ids are
// derived from the command id, the target stream, a fingerprint of the
// command's content and the event's index, so resending a command — after a
// timeout, a crash or a restart — appends nothing and returns the original
// Result with Replayed set. Resending a command id with different content
// (another kind, input, actor or explicit time) on the same aggregate fails
// with a *domain.Error "command_id_reused". See docs/decisions/0010-*.md.
type Service struct {
	store    eventstore.Store
	policies *domain.PolicySet
	base     *calendar.Calendar
	calMu    sync.Mutex
	calCur   *calendarAgg
	loc      *time.Location
	sealer   Sealer
	opener   domain.Opener // openLabels; nil: labels fold as stored
	clock    func() time.Time
	newID    func() uuid.UUID
	attempts int
	reg      *domain.Registry
	ns       uuid.UUID
	cache    *streamCache
	// clearText leaves personal text unsealed: the benchmark's baseline
	// only (bench_test.go); never set in production.
	clearText bool
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Policies == nil {
		var err error
		if cfg.Policies, err = domain.DefaultPolicySet(); err != nil {
			return nil, err
		}
	}
	if cfg.Calendar == nil {
		cal, err := calendar.Default()
		if err != nil {
			return nil, fmt.Errorf("app: load the shipped calendar: %w", err)
		}
		cfg.Calendar = cal
	}
	if cfg.Location == nil {
		cfg.Location = cfg.Calendar.Location()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = eventstore.NewID
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Registry == nil {
		cfg.Registry = domain.NewRegistry()
	}
	if cfg.CacheEvents == 0 {
		cfg.CacheEvents = cacheEvents
	}
	return &Service{store: cfg.Store, policies: cfg.Policies, base: cfg.Calendar, loc: cfg.Location, sealer: cfg.Sealer, opener: openerOf(cfg),
		clock: cfg.Clock, newID: cfg.NewID, attempts: cfg.MaxAttempts, reg: cfg.Registry, ns: uuid.MustParse(namespace),
		cache: &streamCache{limit: cfg.CacheEvents}}, nil
}

// namespace is the UUIDv5 namespace of ids derived from command ids.
const namespace = "6f1d3c2e-8a4b-5c7d-9e0f-d00257e90001"

// Cmd is what every command carries besides its own input.
type Cmd struct {
	// ID is the command id, the idempotency key: resend a command with the
	// same ID and content and it takes effect once. At most 200 bytes of
	// UTF-8. Empty: the service makes one (Result.CommandID), and the
	// command is then not idempotent across the caller's own retries.
	ID string
	// Actor is who issues the command (required); Role their role (domain.Role…).
	Actor string
	Role  string
	// At is when the command happens (domain time). Zero: the service clock
	// at the first attempt. Set it only for back-dated entry (imports, the
	// synthetic town); it is part of the command's content.
	At time.Time
	// CorrelationID groups the commands of one conversation; default: ID.
	CorrelationID string
	// CausationID is the event or command that caused this one; default: ID.
	CausationID string
	// Expect, if not nil, makes the command conditional: it takes effect
	// only if the target stream is at exactly this version when decided and
	// appended (the expected version of the append itself, so no other
	// writer can slip in between). Otherwise it fails with an error matching
	// ErrVersionMismatch and is not retried. A resent command (same ID and
	// content) still returns its original result.
	Expect *uint64
	// Match, if not nil, is a wider condition than Expect (HTTP If-Match
	// with "*" or a list of tags): the target stream must exist, or be at
	// one of the listed versions, when decided and appended. When both are
	// set, both must hold. A stream that moves from one listed version to
	// another under the command is decided again; one that moves off the
	// list fails with ErrVersionMismatch.
	Match *Match

	// timeless leaves At out of the command's content: the deadline
	// watcher's commands are identified by their deterministic id and
	// input, whenever a watcher records them.
	timeless bool
}

// Match is a condition on the target stream's version: Exists holds for any
// stream with at least one event; otherwise the version must be one of
// Versions (an empty list matches nothing).
type Match struct {
	Exists   bool
	Versions []uint64
}

// holds reports whether a stream at version v meets the condition.
func (m *Match) holds(v uint64) bool {
	if m.Exists {
		return v > 0
	}
	return slices.Contains(m.Versions, v)
}

// describe describes the condition for an error message, in English and
// Chinese.
func (m *Match) describe() (en, zh string) {
	if m.Exists {
		return "any version (it must exist)", "任一版本（须已存在）"
	}
	vs := make([]string, len(m.Versions))
	for i, v := range m.Versions {
		vs[i] = strconv.FormatUint(v, 10)
	}
	if len(vs) == 1 {
		return vs[0], vs[0]
	}
	return "one of " + strings.Join(vs, ", "), strings.Join(vs, "、") + " 之一"
}

func matchMismatch(stream string, m *Match, actual uint64) error {
	want, wantZH := m.describe()
	e := errorf(domain.ErrConflict, "version_mismatch", "expected_version",
		fmt.Sprintf("%s is at version %d, not %s as expected: someone changed it since you read it, or it does not exist; reload it and decide again", stream, actual, want),
		fmt.Sprintf("%s 当前版本为 %d，而不是预期的 %s：读取之后已有他人修改，或该记录不存在；请刷新后重新决定", stream, actual, wantZH))
	e.Err = ErrVersionMismatch
	return e
}

// ErrVersionMismatch is matched (errors.Is) by the error of a conditional
// command (Cmd.Expect) whose stream was at another version.
var ErrVersionMismatch = errors.New("app: the stream is not at the expected version")

func versionMismatch(stream string, want, actual uint64) error {
	e := errorf(domain.ErrConflict, "version_mismatch", "expected_version",
		fmt.Sprintf("%s is at version %d, not %d as expected: someone changed it since you read it; reload it and decide again", stream, actual, want),
		fmt.Sprintf("%s 当前版本为 %d，而不是预期的 %d：读取之后已有他人修改；请刷新后重新决定", stream, actual, want))
	e.Err = ErrVersionMismatch
	return e
}

// Result tells what a command did.
type Result struct {
	CommandID string
	Stream    string
	ID        string // the aggregate's id (derived from the command id when the caller gave none)
	Number    string // the ledger number, for ReportProblem
	// AppendResult: versions and global positions of the events the command
	// appended. LastVersion is the stream's version after the command and
	// LastPosition the position to wait for (read-your-writes). When the
	// command recorded nothing (Events == 0), LastVersion is the stream's
	// current version and the positions are zero.
	eventstore.AppendResult
	Events int // events the command appended (the first time, for a resent command)
	// Replayed is true when the service found the command already handled
	// and appended nothing. A copy racing its original so closely that it
	// loaded the stream just before the original committed is answered by
	// the store with the original result and may report false: the result
	// is still the original's and nothing was appended twice.
	Replayed bool
}

// errorf builds a bilingual *domain.Error.
func errorf(kind error, code, field, en, zh string) *domain.Error {
	return &domain.Error{Kind: kind, Code: code, Field: field, Message: en, MessageZH: zh}
}

func (s *Service) prepare(c Cmd) (Cmd, error) {
	if c.ID == "" {
		c.ID = s.newID().String()
	}
	if len(c.ID) > 200 || !utf8.ValidString(c.ID) {
		return c, errorf(domain.ErrInvalid, "invalid_command_id", "command_id",
			"the command id must be valid UTF-8 of at most 200 bytes; use a UUID",
			"命令编号须为不超过 200 字节的有效 UTF-8 字符串；请使用 UUID")
	}
	if c.CorrelationID == "" {
		c.CorrelationID = c.ID
	}
	if c.CausationID == "" {
		c.CausationID = c.ID
	}
	return c, nil
}

// meta returns the domain meta of a command: its time in the service's
// location (the clock when the command carries none).
func (s *Service) meta(c Cmd) domain.Meta {
	at := c.At
	if at.IsZero() {
		at = s.clock()
	}
	return domain.Meta{Actor: c.Actor, Role: c.Role, At: at.In(s.loc), CommandID: c.ID}
}

// Policies returns the policy set the service decides with.
func (s *Service) Policies() *domain.PolicySet { return s.policies }

// Calendar returns the base working-day calendar (the shipped years, in
// the service's time zone); CalendarInForce adds the published ones.
func (s *Service) Calendar() *calendar.Calendar { return s.base }

// Store returns the event store.
func (s *Service) Store() eventstore.Store { return s.store }

// openerOf is the Opener a service opens sealed labels with.
func openerOf(cfg Config) domain.Opener {
	if cfg.Opener != nil {
		return cfg.Opener
	}
	if o, ok := cfg.Sealer.(domain.Opener); ok {
		return o
	}
	return nil
}
