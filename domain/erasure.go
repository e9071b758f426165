package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Erasure under PIPL (issue 14, decision 0100): a person asks for the
// personal data of their household, or of one member, to be erased. The
// request, its approval by a second person holding the privacy-officer role,
// and its completion are events on the household's stream; none of them
// carries personal data (ids, a legal basis from a fixed list, an opaque
// request reference, staff names in the metadata). Completion records that
// the data keys were destroyed (crypto-shredding): the sealed fields of the
// household (or of the member) can never be opened again, while the events
// and their hash chains stay.

// Household erasure event types. Durable names.
const (
	TypeHouseholdErasureRequested = "household.erasure_requested"
	TypeHouseholdErasureApproved  = "household.erasure_approved"
	TypeHouseholdErasureCompleted = "household.erasure_completed"
)

// ErasureScope is what an erasure covers.
type ErasureScope string

const (
	EraseHousehold ErasureScope = "household" // every member and every sealed field of the household
	EraseMember    ErasureScope = "member"    // the sealed fields of one member
)

// LegalBasis is the ground of an erasure, from PIPL art. 47.
type LegalBasis string

const (
	BasisPurposeAchieved    LegalBasis = "purpose_achieved"    // 处理目的已实现、无法实现或者不再必要
	BasisServiceEnded       LegalBasis = "service_ended"       // 停止提供服务，或者保存期限已届满
	BasisRetentionExpired   LegalBasis = "retention_expired"   // 保存期限已届满
	BasisConsentWithdrawn   LegalBasis = "consent_withdrawn"   // 个人撤回同意
	BasisUnlawfulProcessing LegalBasis = "unlawful_processing" // 违反法律、行政法规或者违反约定处理
)

// LegalBases lists the accepted legal bases.
func LegalBases() []LegalBasis {
	return []LegalBasis{BasisPurposeAchieved, BasisServiceEnded, BasisRetentionExpired, BasisConsentWithdrawn, BasisUnlawfulProcessing}
}

// MaxReferenceBytes bounds an erasure request's reference.
const MaxReferenceBytes = 64

// MemberSubject names a member's own data key in the key store: the
// household id and the member id, joined by '/', which no id may contain.
// A member's sensitive fields are sealed under it, so that the member can
// be erased alone.
func MemberSubject(householdID, memberID string) string { return householdID + "/" + memberID }

// HouseholdErasureRequested: someone asked for an erasure. Reference is the
// request's reference in the organisation's register of requests (an
// opaque id, never a name).
type HouseholdErasureRequested struct {
	RequestID  string       `json:"request_id"`
	Scope      ErasureScope `json:"scope"`
	MemberID   string       `json:"member_id,omitempty"`
	LegalBasis LegalBasis   `json:"legal_basis"`
	Reference  string       `json:"reference"`
	At         time.Time    `json:"at"`
	By         string       `json:"by"`
}

// HouseholdErasureApproved: a privacy officer, not the requester, approved.
type HouseholdErasureApproved struct {
	RequestID string    `json:"request_id"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
}

// HouseholdErasureCompleted: the data keys (Subjects: the household id, or
// member subjects) were destroyed.
type HouseholdErasureCompleted struct {
	RequestID string       `json:"request_id"`
	Scope     ErasureScope `json:"scope"`
	MemberID  string       `json:"member_id,omitempty"`
	Subjects  []string     `json:"subjects"`
	At        time.Time    `json:"at"`
	By        string       `json:"by"`
}

func (HouseholdErasureRequested) EventType() string { return TypeHouseholdErasureRequested }
func (HouseholdErasureApproved) EventType() string  { return TypeHouseholdErasureApproved }
func (HouseholdErasureCompleted) EventType() string { return TypeHouseholdErasureCompleted }

// ErasureRequest is a request as folded: its event, and whether (and by
// whom) it was approved and completed.
type ErasureRequest struct {
	HouseholdErasureRequested
	ApprovedBy  string
	ApprovedAt  time.Time
	Completed   bool
	CompletedAt time.Time
}

// erasures is the erasure state of a household.
type erasures struct {
	requests []*ErasureRequest
	erased   bool            // the household's keys are destroyed
	members  map[string]bool // members erased alone
}

func (x *erasures) apply(e Event) {
	switch e := e.(type) {
	case HouseholdErasureRequested:
		x.requests = append(x.requests, &ErasureRequest{HouseholdErasureRequested: e})
	case HouseholdErasureApproved:
		if r := x.request(e.RequestID); r != nil {
			r.ApprovedBy, r.ApprovedAt = e.By, e.At
		}
	case HouseholdErasureCompleted:
		if r := x.request(e.RequestID); r != nil {
			r.Completed, r.CompletedAt = true, e.At
		}
		if e.Scope == EraseHousehold {
			x.erased = true
		} else {
			if x.members == nil {
				x.members = map[string]bool{}
			}
			x.members[e.MemberID] = true
		}
	}
}

func (x *erasures) request(id string) *ErasureRequest {
	for _, r := range x.requests {
		if r.RequestID == id {
			return r
		}
	}
	return nil
}

// ErasureRequests returns the household's erasure requests, oldest first.
func (h *Household) ErasureRequests() []ErasureRequest {
	out := make([]ErasureRequest, 0, len(h.erasure.requests))
	for _, r := range h.erasure.requests {
		out = append(out, *r)
	}
	return out
}

// ErasureRequest returns the request with id.
func (h *Household) ErasureRequest(id string) (ErasureRequest, bool) {
	if r := h.erasure.request(id); r != nil {
		return *r, true
	}
	return ErasureRequest{}, false
}

// Erased reports whether the household's personal data was erased.
func (h *Household) Erased() bool { return h.erasure.erased }

// MemberErased reports whether a member was erased (alone, or with the
// household).
func (h *Household) MemberErased(memberID string) bool {
	return h.erasure.erased || h.erasure.members[memberID]
}

// RequestErasure is the input of Household.RequestErasure.
type RequestErasure struct {
	RequestID  string
	Scope      ErasureScope
	MemberID   string
	LegalBasis LegalBasis
	Reference  string
}

func erasureError(code, field, en, zh string) *Error { return newError(ErrRule, code, field, en, zh) }

// RequestErasure records a request to erase the household's or a member's
// personal data. It may be made on an archived household (retention ends
// after the file is closed). A member's fields sealed under the household's
// own key (before members had keys of their own) cannot be erased alone:
// the refusal says to erase the household.
func (h *Household) RequestErasure(meta Meta, in RequestErasure) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if !h.registered {
		return nil, newError(ErrNotFound, "household_not_found", "household_id",
			fmt.Sprintf("household %s is not registered", h.id), fmt.Sprintf("家庭 %s 尚未登记", h.id))
	}
	if in.RequestID == "" {
		return nil, required("request_id", "the erasure request's id", "删除申请编号")
	}
	if err := checkIDs("request_id", in.RequestID, "member_id", in.MemberID); err != nil {
		return nil, err
	}
	if h.erasure.request(in.RequestID) != nil {
		return nil, newError(ErrConflict, "erasure_request_exists", "request_id",
			fmt.Sprintf("household %s already has an erasure request %s", h.id, in.RequestID),
			fmt.Sprintf("家庭 %s 已有编号为 %s 的删除申请", h.id, in.RequestID))
	}
	if !slices.Contains(LegalBases(), in.LegalBasis) {
		return nil, badValue("legal_basis", "the legal basis", "法律依据", in.LegalBasis, LegalBases()...)
	}
	if err := checkReference(in.Reference); err != nil {
		return nil, err
	}
	if h.erasure.erased {
		return nil, erasureError("already_erased", "household_id",
			fmt.Sprintf("the personal data of household %s has already been erased", h.id),
			fmt.Sprintf("家庭 %s 的个人信息已被删除", h.id))
	}
	switch in.Scope {
	case EraseHousehold:
		if in.MemberID != "" {
			return nil, newError(ErrInvalid, "unexpected_member", "member_id",
				"a member id belongs to an erasure of one member (scope \"member\"), not of the household",
				"成员编号仅用于删除单个成员，删除整户时无需填写")
		}
	case EraseMember:
		if in.MemberID == "" {
			return nil, required("member_id", "the member to erase", "要删除的成员")
		}
		m := h.member(in.MemberID)
		if m == nil {
			return nil, newError(ErrNotFound, "member_not_found", "member_id",
				fmt.Sprintf("household %s has no member %s", h.id, in.MemberID),
				fmt.Sprintf("家庭 %s 没有成员 %s", h.id, in.MemberID))
		}
		if h.erasure.members[in.MemberID] {
			return nil, erasureError("already_erased", "member_id",
				fmt.Sprintf("the personal data of member %s has already been erased", in.MemberID),
				fmt.Sprintf("成员 %s 的个人信息已被删除", in.MemberID))
		}
		if sealedUnderHouseholdKey(m.MemberDetails) {
			return nil, erasureError("member_key_shared", "member_id",
				fmt.Sprintf("member %s's sensitive fields were recorded before members had keys of their own and are sealed under the household's key; erase the whole household (scope \"household\") instead", in.MemberID),
				fmt.Sprintf("成员 %s 的敏感信息录入于成员拥有独立密钥之前，以家庭密钥加密；请改为删除整户", in.MemberID))
		}
	default:
		return nil, badValue("scope", "the erasure's scope", "删除范围", in.Scope, EraseHousehold, EraseMember)
	}
	return []Event{HouseholdErasureRequested{RequestID: in.RequestID, Scope: in.Scope, MemberID: in.MemberID,
		LegalBasis: in.LegalBasis, Reference: in.Reference, At: meta.At, By: meta.Actor}}, nil
}

// KeyChecker reports, without opening a sealed value, whether the key it
// was sealed with has been destroyed (keystore.Vault implements it): a
// masked view shows an erased field as erased.
type KeyChecker interface {
	Erased(ctx context.Context, householdID string, s Sealed) (bool, error)
}

// MemberKeyPrefix starts the key id of a member's own data key; a member's
// fields sealed under a key id without it are under the household's key.
const MemberKeyPrefix = "km-"

func sealedUnderHouseholdKey(d MemberDetails) bool {
	for _, s := range []Sealed{d.IDNumber, d.Phone, d.Income, d.Health, d.Disability} {
		if !s.IsZero() && !strings.HasPrefix(s.KeyID, MemberKeyPrefix) {
			return true
		}
	}
	return false
}

func checkReference(ref string) error {
	if ref == "" {
		return required("reference", "the request's reference (its number in your register of requests)", "申请文号（在本单位申请登记簿中的编号）")
	}
	if len(ref) > MaxReferenceBytes || !ValidID(ref) {
		return newError(ErrInvalid, "invalid_reference", "reference",
			fmt.Sprintf("the reference must be an id of at most %d bytes (letters, digits, Chinese characters and punctuation, no spaces and no '/'), such as a register number; never a person's name", MaxReferenceBytes),
			fmt.Sprintf("申请文号须为不超过 %d 字节的编号（字母、数字、汉字和标点，不含空格和 “/”），例如登记编号；不得填写姓名", MaxReferenceBytes))
	}
	return nil
}

// ApproveErasure approves a pending request. The approver must hold the
// privacy-officer role and must not be the person who requested it. An
// approved request not yet completed is approved already: no event, and no
// error (the caller goes on to complete it).
func (h *Household) ApproveErasure(meta Meta, requestID string) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	r, err := h.pendingErasure(requestID)
	if err != nil {
		return nil, err
	}
	if meta.Role != RolePrivacyOfficer {
		return nil, newError(ErrRule, "privacy_officer_required", "role",
			"an erasure is approved by a privacy officer (role privacy_officer)",
			"删除申请须由个人信息保护负责人（角色 privacy_officer）批准")
	}
	if r.ApprovedBy != "" {
		return nil, nil
	}
	if meta.Actor == r.By {
		return nil, erasureError("second_person_required", "by",
			fmt.Sprintf("%s requested this erasure and cannot also approve it; another privacy officer must approve", r.By),
			fmt.Sprintf("%s 提出了此删除申请，不能同时批准；须由另一位个人信息保护负责人批准", r.By))
	}
	return []Event{HouseholdErasureApproved{RequestID: requestID, At: meta.At, By: meta.Actor}}, nil
}

// ErasureSubjects returns the key-store subjects an approved request
// destroys: for the household, its own key and every member's (current
// or past); for a member, the member's.
func (h *Household) ErasureSubjects(requestID string) []string {
	r := h.erasure.request(requestID)
	if r == nil {
		return nil
	}
	if r.Scope == EraseMember {
		return []string{MemberSubject(h.id, r.MemberID)}
	}
	out := []string{h.id}
	for _, m := range h.members {
		out = append(out, MemberSubject(h.id, m.ID))
	}
	return out
}

// CompleteErasure records that the keys of an approved request were
// destroyed (the caller destroys them first, then records it).
func (h *Household) CompleteErasure(meta Meta, requestID string) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	r, err := h.pendingErasure(requestID)
	if err != nil {
		return nil, err
	}
	if r.ApprovedBy == "" {
		return nil, erasureError("erasure_not_approved", "request_id",
			fmt.Sprintf("erasure request %s is not approved yet", requestID),
			fmt.Sprintf("删除申请 %s 尚未批准", requestID))
	}
	return []Event{HouseholdErasureCompleted{RequestID: requestID, Scope: r.Scope, MemberID: r.MemberID,
		Subjects: h.ErasureSubjects(requestID), At: meta.At, By: meta.Actor}}, nil
}

func (h *Household) pendingErasure(requestID string) (*ErasureRequest, error) {
	if requestID == "" {
		return nil, required("request_id", "the erasure request's id", "删除申请编号")
	}
	r := h.erasure.request(requestID)
	if r == nil {
		return nil, newError(ErrNotFound, "erasure_request_not_found", "request_id",
			fmt.Sprintf("household %s has no erasure request %s", h.id, Clip(requestID, MaxEchoBytes)),
			fmt.Sprintf("家庭 %s 没有编号为 %s 的删除申请", h.id, Clip(requestID, MaxEchoBytes)))
	}
	if r.Completed {
		return nil, erasureError("erasure_completed", "request_id",
			fmt.Sprintf("erasure request %s is already completed", requestID),
			fmt.Sprintf("删除申请 %s 已完成", requestID))
	}
	return r, nil
}
