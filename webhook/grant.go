package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/doorstep/doorstep/domain"
	"github.com/doorstep/doorstep/eventstore"
	"github.com/doorstep/doorstep/identity"
)

// MaxGrantReason bounds the reason given for a grant or a withdrawal, in
// characters.
const MaxGrantReason = 500

// RevealRecorder is the chained record of reveals (package accesslog's
// File and Postgres): grants, withdrawals and every delivery that carried
// opened values are recorded in it, with the purpose, before they take
// effect.
type RevealRecorder interface {
	RecordReveal(ctx context.Context, who identity.Principal, householdID, what, purpose string) error
}

// Actor is the name under which a subscription's reveals are recorded.
func Actor(id string) string { return "webhook:" + id }

func purposeList() (en, zh string) {
	var names, quoted []string
	for _, p := range identity.Purposes() {
		names = append(names, string(p))
		quoted = append(quoted, "“"+string(p)+"”") // codes quoted in a Chinese text (decision 0087)
	}
	return strings.Join(names, ", "), strings.Join(quoted, "、")
}

// checkReason trims and bounds a reason; required says whether it may be
// empty.
func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "" && required:
		return "", invalid("grant_reason_required", "reason", "say why the subscription is granted the sealed fields (reason)",
			"请说明授予该订阅敏感字段的理由")
	case utf8.RuneCountInString(reason) > MaxGrantReason || !utf8.ValidString(reason) ||
		strings.ContainsFunc(reason, func(r rune) bool { return unicode.IsControl(r) }):
		return "", invalid("grant_reason_invalid", "reason",
			fmt.Sprintf("the reason must be text of at most %d characters, on one line", MaxGrantReason),
			fmt.Sprintf("理由须为不超过 %d 个字符的单行文字", MaxGrantReason))
	}
	return reason, nil
}

// canGrant refuses a grant on a manager that cannot open sealed values or
// record reveals.
func (m *Manager) canGrant() error {
	if m.cfg.Opener == nil || m.cfg.Reveals == nil {
		return &domain.Error{Kind: domain.ErrConflict, Code: "webhook_grant_unavailable", Field: "purpose",
			Message:   "this server cannot open sealed fields for webhooks (no key vault or no record of reveals configured)",
			MessageZH: "此服务器无法为回调推送解密敏感字段（未配置密钥库或查看记录）"}
	}
	return nil
}

// Grant lets subscription id's deliveries carry the sealed fields opened,
// for purpose (one of identity.Purposes), from the next event it delivers.
// The grant is recorded in the record of reveals (by, the purpose, the
// reason) before it takes effect. Granting again replaces the purpose.
func (m *Manager) Grant(ctx context.Context, id, purpose, reason string, by identity.Principal) (Subscription, error) {
	if err := m.canGrant(); err != nil {
		return Subscription{}, err
	}
	if !slices.Contains(identity.Purposes(), identity.Purpose(purpose)) {
		en, zh := purposeList()
		q := domain.Clip(purpose, domain.MaxEchoBytes)
		return Subscription{}, invalid("invalid_purpose", "purpose", fmt.Sprintf("%q is not a purpose; use one of %s", q, en),
			fmt.Sprintf("%q 不是有效用途；可选：%s", q, zh))
	}
	reason, err := checkReason(reason, true)
	if err != nil {
		return Subscription{}, err
	}
	sub, err := m.st.Get(ctx, id)
	if err != nil {
		return sub, err
	}
	if err := m.cfg.Reveals.RecordReveal(ctx, by, "", fmt.Sprintf("webhook %s granted the sealed fields (%s): %s", id, sub.URL, reason), purpose); err != nil {
		return sub, fmt.Errorf("webhook: record the grant of %s: %w", id, err)
	}
	g := &Grant{Purpose: purpose, Reason: reason, By: by.Name, At: m.cfg.Now().UTC().Truncate(time.Microsecond)}
	if err := m.st.setGrant(ctx, id, g); err != nil {
		return sub, err
	}
	m.setGrant(id, g)
	m.changed.Notify()
	sub.Grant = g
	m.cfg.Logger.Info("webhook granted the sealed fields / 已授予回调订阅敏感字段", "id", id, "by", by.Name, "purpose", purpose)
	return sub, nil
}

// Withdraw ends subscription id's grant: the next event it delivers carries
// markers again. The withdrawal is recorded in the record of reveals, with
// the purpose that was granted. Withdrawing without a grant is refused.
func (m *Manager) Withdraw(ctx context.Context, id, reason string, by identity.Principal) (Subscription, error) {
	if err := m.canGrant(); err != nil {
		return Subscription{}, err
	}
	reason, err := checkReason(reason, false)
	if err != nil {
		return Subscription{}, err
	}
	sub, err := m.st.Get(ctx, id)
	if err != nil {
		return sub, err
	}
	if sub.Grant == nil {
		return sub, &domain.Error{Kind: domain.ErrConflict, Code: "webhook_not_granted", Field: "id",
			Message:   fmt.Sprintf("webhook %s is not granted the sealed fields; there is nothing to withdraw", id),
			MessageZH: fmt.Sprintf("回调订阅 %s 未被授予敏感字段，无需撤回", id)}
	}
	// Stop revealing first: a withdrawal that cannot be recorded still
	// takes effect, and says so.
	if err := m.st.setGrant(ctx, id, nil); err != nil {
		return sub, err
	}
	m.setGrant(id, nil)
	m.changed.Notify()
	purpose := sub.Grant.Purpose
	sub.Grant = nil
	what := fmt.Sprintf("webhook %s: grant of the sealed fields withdrawn", id)
	if reason != "" {
		what += ": " + reason
	}
	if err := m.cfg.Reveals.RecordReveal(ctx, by, "", what, purpose); err != nil {
		return sub, fmt.Errorf("webhook: the grant of %s is withdrawn but the withdrawal could not be recorded: %w", id, err)
	}
	m.cfg.Logger.Info("webhook grant withdrawn / 已撤回回调订阅的敏感字段授权", "id", id, "by", by.Name, "purpose", purpose)
	return sub, nil
}

// setGrant keeps the grant the deliveries use (nil: none).
func (m *Manager) setGrant(id string, g *Grant) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g == nil {
		delete(m.grants, id)
	} else {
		m.grants[id] = *g
	}
}

// grant returns the grant the deliveries of id use now.
func (m *Manager) grant(id string) (Grant, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.grants[id]
	return g, ok
}

// body is the body of the delivery of ev to subscription id: markers, or,
// under a grant, the sealed fields opened, the reveal recorded first.
func (m *Manager) body(ctx context.Context, id string, g *Grant, ev *eventstore.Event) ([]byte, error) {
	if g == nil || m.cfg.Opener == nil || m.cfg.Reveals == nil {
		return m.cfg.Encoder.Structured(ev)
	}
	body, n, err := m.cfg.Encoder.StructuredOpened(ctx, m.cfg.Opener, ev)
	if err != nil || n == 0 {
		return body, err
	}
	hh := strings.TrimPrefix(ev.Stream, "household-")
	who := identity.Principal{Name: Actor(id), Role: identity.RoleIntegrator, Sensitive: true}
	if err := m.cfg.Reveals.RecordReveal(ctx, who, hh, fmt.Sprintf("%d sensitive field(s) of event %s (%s) delivered to webhook %s", n, ev.ID, ev.Type, id), g.Purpose); err != nil {
		return nil, fmt.Errorf("webhook %s: record the reveal of event %s: %w", id, ev.ID, err)
	}
	return body, nil
}
