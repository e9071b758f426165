package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/doorstep/doorstep/domain"
)

// Purpose is why a caller asks for sensitive fields in clear (issue 14,
// decision 0101). Reads show them masked to every role; revealing takes a
// purpose from this fixed list, allowed to the roles the policy below
// grants it to, and is recorded with it.
type Purpose string

const (
	PurposeVisitPreparation Purpose = "visit_preparation" // 走访准备
	PurposeServiceReferral  Purpose = "service_referral"  // 服务转介
	PurposeAudit            Purpose = "audit"             // 审计
	PurposeStatutoryReport  Purpose = "statutory_report"  // 法定报告
)

// purposeGrants is the policy: which roles may reveal for which purpose
// (always within their scope, and only with the token's sensitive grant).
var purposeGrants = map[Purpose][]Role{
	PurposeVisitPreparation: {RoleWorker, RoleSupervisor},
	PurposeServiceReferral:  {RoleWorker, RoleSupervisor},
	PurposeAudit:            {RoleAuditor},
	PurposeStatutoryReport:  {RoleSupervisor, RoleAdmin},
}

var purposeZH = map[Purpose]string{
	PurposeVisitPreparation: "走访准备", PurposeServiceReferral: "服务转介", PurposeAudit: "审计", PurposeStatutoryReport: "法定报告",
}

// Purposes lists the purposes, in a stable order.
func Purposes() []Purpose {
	return []Purpose{PurposeVisitPreparation, PurposeServiceReferral, PurposeAudit, PurposeStatutoryReport}
}

// PurposeRoles returns the roles the policy grants purpose to.
func PurposeRoles(purpose Purpose) []Role { return slices.Clone(purposeGrants[purpose]) }

// ErrRevealRefused is the kind of the *domain.Error MayReveal returns when
// the caller may not reveal for the purpose; ErrInvalidPrincipal's sibling
// for a purpose that is missing or not on the list is domain.ErrInvalid.
var ErrRevealRefused = errors.New("reveal refused")

// MayReveal checks that p may reveal sensitive fields for purpose. The
// scope (which households) is checked by the caller, as for any read. Its
// errors are *domain.Error in English and Chinese: purpose_required and
// invalid_purpose (kind domain.ErrInvalid), sensitive_not_granted and
// purpose_not_granted (kind ErrRevealRefused).
func (p *Principal) MayReveal(purpose Purpose) error {
	names := make([]string, 0, 4)
	namesZH := make([]string, 0, 4)
	for _, q := range Purposes() {
		names = append(names, string(q))
		namesZH = append(namesZH, fmt.Sprintf("“%s”（%s）", q, purposeZH[q]))
	}
	switch {
	case purpose == "":
		return &domain.Error{Kind: domain.ErrInvalid, Code: "purpose_required", Field: "purpose",
			Message:   "revealing sensitive fields needs a purpose: one of " + strings.Join(names, ", "),
			MessageZH: "查看敏感信息明文须说明用途，可选：" + strings.Join(namesZH, "、")}
	case purposeGrants[purpose] == nil:
		q := domain.Clip(string(purpose), domain.MaxEchoBytes)
		return &domain.Error{Kind: domain.ErrInvalid, Code: "invalid_purpose", Field: "purpose",
			Message:   fmt.Sprintf("%q is not a purpose; use one of %s", q, strings.Join(names, ", ")),
			MessageZH: fmt.Sprintf("%q 不是有效用途；可选：%s", q, strings.Join(namesZH, "、"))}
	case !p.Sensitive:
		return &domain.Error{Kind: ErrRevealRefused, Code: "sensitive_not_granted", Field: "purpose",
			Message:   "your token does not carry the grant to read sensitive fields; ask an administrator",
			MessageZH: "您的令牌没有查看敏感信息的授权；请联系管理员"}
	case !slices.Contains(purposeGrants[purpose], p.Role):
		en, zh := domain.RoleLabel(p.Role.DomainRole())
		return &domain.Error{Kind: ErrRevealRefused, Code: "purpose_not_granted", Field: "purpose",
			Message:   fmt.Sprintf("the %s role may not reveal sensitive fields for %s", en, purpose),
			MessageZH: fmt.Sprintf("%s角色不能以“%s”为用途查看敏感信息", zh, purposeZH[purpose])}
	}
	return nil
}
