package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/doorstep/doorstep/domain"
)

// Kinds of the errors this package returns.
var (
	// ErrInvalidPrincipal is the kind of the *domain.Error Validate (and so
	// Create) returns: the principal's name, role or scope is missing or
	// wrong.
	ErrInvalidPrincipal = errors.New("invalid principal")
	// ErrUnknownToken: Authenticate found no such token.
	ErrUnknownToken = errors.New("unknown token")
	// ErrTokenRevoked is the kind of the *domain.Error Authenticate
	// returns for a revoked token.
	ErrTokenRevoked = errors.New("token revoked")
	// ErrTokenExpired is the kind of the *domain.Error Authenticate
	// returns for a token past its expiry.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenNotFound is the kind of the *domain.Error Revoke and
	// SetExpiry return for an id that matches no token.
	ErrTokenNotFound = errors.New("token not found")
	// ErrTokensNotSaved is the kind of the *domain.Error a change of the
	// token set returns when it could not be saved (a full disk, a
	// read-only file system, the database gone): nothing was changed.
	ErrTokensNotSaved = errors.New("tokens not saved")
)

var (
	errRevoked = &domain.Error{Kind: ErrTokenRevoked, Code: "token_revoked", Field: "Authorization",
		Message:   "the bearer token has been revoked; ask an administrator for a new one",
		MessageZH: "令牌已被吊销；请向管理员申请新令牌"}
	errExpired = &domain.Error{Kind: ErrTokenExpired, Code: "token_expired", Field: "Authorization",
		Message:   "the bearer token has expired; ask an administrator for a new one, or to extend this one",
		MessageZH: "令牌已过期；请向管理员申请新令牌或延长此令牌的有效期"}
)

func notFound(id string) *domain.Error {
	return &domain.Error{Kind: ErrTokenNotFound, Code: "token_not_found", Field: "id",
		Message:   fmt.Sprintf("no token has the id %s; list the tokens (`doorstep token list` or GET /v1/tokens) to find its id", id),
		MessageZH: fmt.Sprintf("不存在编号为 %s 的令牌；请列出令牌（`doorstep token list` 或 GET /v1/tokens）查找其编号", id)}
}

// saveError is the refusal of a change that could not be saved; cause is
// kept for the log (errors.Unwrap), not shown.
func saveError(cause error) *domain.Error {
	return &domain.Error{Kind: ErrTokensNotSaved, Code: "tokens_not_saved", Err: cause,
		Message:   "the token set could not be saved (the disk may be full or read-only, or the database unreachable); nothing was changed: free space or fix the storage, then try again",
		MessageZH: "令牌集无法保存（磁盘可能已满或只读，或数据库不可达）；未做任何更改：请释放空间或修复存储后重试"}
}

func domainClip(s string) string { return domain.Clip(s, domain.MaxEchoBytes) }

// Role is what a token may do. Each role is scoped:
//
//	worker      its grids: households in them, their problems and referrals
//	supervisor  its communities: the same, community-wide; may reassign and extend
//	auditor     everything, read-only: profiles, as-of views, audit trail, export
//	department  the referrals addressed to its department (and their problems, read-only)
//	integrator  the event stream (optionally limited to communities)
//	admin       everything, and token management
//	privacy_officer  every household, for erasure only: approves erasure
//	            requests (never one it made itself) and reads the record of
//	            reveals; reads no case file (decision 0100)
//
// The names are the domain's role names (domain.Role…), which events
// record, except RoleWorker, whose events record domain.RoleGridWorker.
type Role string

const (
	RoleWorker     Role = "worker"
	RoleSupervisor Role = domain.RoleSupervisor
	RoleAuditor    Role = domain.RoleAuditor
	RoleDepartment Role = domain.RoleDepartment
	RoleIntegrator Role = domain.RoleIntegrator
	RoleAdmin      Role = domain.RoleAdmin
	// RolePrivacyOfficer approves erasures (domain.RolePrivacyOfficer).
	RolePrivacyOfficer Role = domain.RolePrivacyOfficer
)

// Roles lists every role.
func Roles() []Role {
	return []Role{RoleWorker, RoleSupervisor, RoleAuditor, RoleDepartment, RoleIntegrator, RoleAdmin, RolePrivacyOfficer}
}

// DomainRole is the role recorded in events (domain.Meta.Role).
func (r Role) DomainRole() string {
	if r == RoleWorker {
		return domain.RoleGridWorker
	}
	return string(r)
}

// Principal is an authenticated caller: a person or a system, its role and
// its scope.
type Principal struct {
	Name        string   `json:"name"`
	Role        Role     `json:"role"`
	Grids       []string `json:"grids,omitempty"`       // worker scope
	Communities []string `json:"communities,omitempty"` // supervisor (and optional integrator) scope
	Department  string   `json:"department,omitempty"`  // department scope: referrals addressed to it
	// Sensitive grants reading sensitive fields (identity numbers, phone,
	// income, health, disability). Every such read is recorded.
	Sensitive bool `json:"sensitive,omitempty"`

	// id identifies the token that authenticated the principal (the hex
	// SHA-256 of the token, as stored): unique where names are not. Set by
	// Tokens.Authenticate; idempotency keys are kept per id.
	id string
}

// TokenID identifies the token the principal authenticated with; "" for a
// principal that did not come from Tokens.Authenticate.
func (p Principal) TokenID() string { return p.id }

// Validate checks that the role is known and the scope fits it. Its errors
// are *domain.Error of kind ErrInvalidPrincipal.
func (p Principal) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return invalid("required", "name", "the token's name is required (the person or system it belongs to)", "令牌名称为必填项（令牌所属的人员或系统）")
	}
	if !slices.Contains(Roles(), p.Role) {
		names := make([]string, 0, len(Roles()))
		namesZH := make([]string, 0, len(Roles()))
		for _, r := range Roles() {
			_, zh := domain.RoleLabel(string(r))
			names = append(names, string(r))
			namesZH = append(namesZH, "“"+string(r)+"”（"+zh+"）") // codes quoted in a Chinese text (decision 0087)
		}
		q := domain.Clip(string(p.Role), domain.MaxEchoBytes)
		return invalid("invalid_role", "role",
			fmt.Sprintf("%q is not a role; use one of: %s", q, strings.Join(names, ", ")),
			fmt.Sprintf("%q 不是有效角色；请使用：%s", q, strings.Join(namesZH, "、")))
	}
	switch {
	case p.Role == RoleWorker && len(p.Grids) == 0:
		return invalid("required", "grids", "a worker token needs the grids it may work in", "网格员令牌须指定可操作的网格")
	case p.Role == RoleSupervisor && len(p.Communities) == 0:
		return invalid("required", "communities", "a supervisor token needs the communities it supervises", "督导令牌须指定所督导的社区")
	case p.Role == RoleDepartment && p.Department == "":
		return invalid("required", "department", "a department token needs its department, as named in referrals", "部门令牌须指定部门名称（与转介中的接收单位一致）")
	}
	return nil
}

func invalid(code, field, en, zh string) *domain.Error {
	return &domain.Error{Kind: ErrInvalidPrincipal, Code: code, Field: field, Message: en, MessageZH: zh}
}

// Subject is what decides access to a household, a problem or a referral:
// where the household lives and, for a referral, the organisation it is
// addressed to (Receiver).
type Subject struct {
	Community, Grid string
	Receiver        string
}

// Covers reports whether the principal's scope covers a household in
// community/grid.
func (p *Principal) Covers(community, grid string) bool {
	switch p.Role {
	case RoleAdmin, RoleAuditor, RolePrivacyOfficer:
		return true
	case RoleWorker:
		return slices.Contains(p.Grids, grid)
	case RoleSupervisor:
		return slices.Contains(p.Communities, community)
	case RoleIntegrator:
		return len(p.Communities) == 0 || slices.Contains(p.Communities, community)
	}
	return false
}

// MayRead reports whether p may read subject s.
func (p *Principal) MayRead(s Subject) bool {
	if p.Role == RoleDepartment {
		return s.Receiver != "" && s.Receiver == p.Department
	}
	return p.Covers(s.Community, s.Grid)
}

// MayWrite reports whether p may change subject s. receiver admits the
// department a referral is addressed to.
func (p *Principal) MayWrite(s Subject, receiver bool) bool {
	switch p.Role {
	case RoleAdmin:
		return true
	case RoleWorker, RoleSupervisor:
		return p.Covers(s.Community, s.Grid)
	case RoleDepartment:
		return receiver && s.Receiver != "" && s.Receiver == p.Department
	}
	return false
}
