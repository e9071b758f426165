package domain

import (
	"fmt"
	"time"
)

// Retention of closed files (issue 14 item 4, decision 0113): the policy
// says how long an archived household's file is kept; when that period
// ends, the household's personal data is erased by the erasure path of
// decision 0100, requested and approved by the system under the policy
// (legal basis retention_expired) instead of by people.

// RetentionRules is the retention part of a policy.
type RetentionRules struct {
	// ArchivedFile: an archived household's personal data is erased this
	// long after it was archived. Zero: never by retention.
	ArchivedFile Span `yaml:"archived_file,omitempty" json:"archived_file,omitzero"`
}

// maxRetentionMonths bounds a retention period (30 years).
const maxRetentionMonths = 360

func (r RetentionRules) validate() error {
	s := r.ArchivedFile
	if s.IsZero() {
		return nil
	}
	if s.Unit == UnitHour || s.Unit == UnitWorkingDay {
		return policyErr("retention.archived_file", fmt.Sprintf("a retention period is counted in days, weeks or months, not in %ss", s.Unit),
			fmt.Sprintf("保存期限须以天、周或月计，不能以%s计", unitZH[s.Unit]))
	}
	months := s.N
	switch s.Unit {
	case UnitDay:
		months = s.N / 28
	case UnitWeek:
		months = s.N / 4
	}
	if months > maxRetentionMonths {
		return policyErr("retention.archived_file", fmt.Sprintf("a retention period is at most %d months (30 years), not %s", maxRetentionMonths, s),
			fmt.Sprintf("保存期限最长 %d 个月（30 年），而不是 %s", maxRetentionMonths, s.ZH()))
	}
	return nil
}

// ArchivedAt returns when the household was archived (zero: it is not).
func (h *Household) ArchivedAt() time.Time {
	if !h.archived {
		return time.Time{}
	}
	return h.archivedAt
}

// RetentionEnds returns when the retention of the household's closed file
// ends under pol: its archiving plus pol's period, in cal's time zone. ok
// is false when the household is not archived, is erased already, or pol
// sets no period.
func (h *Household) RetentionEnds(pol *Policy, cal WorkingDayCalendar) (time.Time, bool) {
	if !h.archived || h.erasure.erased || pol.Retention.ArchivedFile.IsZero() {
		return time.Time{}, false
	}
	d, err := DueAfter(cal, h.archivedAt, pol.Retention.ArchivedFile)
	if err != nil {
		return time.Time{}, false
	}
	return d.At, true
}

// RetentionReference is the reference an erasure at the end of retention
// carries: the policy version that set the period.
func RetentionReference(pol *Policy) string { return "retention-policy-" + pol.Version }

// ExpireRetention erases the household at the end of its retention: it
// requests the erasure of the whole household (legal basis
// retention_expired, the policy's version as reference) and approves it,
// both by the system (role system), as one decision under the policy. The
// caller then destroys the keys and completes it (command layer). With a
// request requestID already approved (a retry, another node), it returns
// no events and no error, so that the caller completes it; with the
// household erased already, none either.
func (h *Household) ExpireRetention(meta Meta, pol *Policy, cal WorkingDayCalendar, requestID string) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if meta.Role != RoleSystem {
		return nil, newError(ErrRule, "system_only", "role",
			"the end of retention is applied by the retention task (role system); people ask for an erasure instead",
			"保存期满删除由系统的保存期限任务执行；人员请改为提出删除申请")
	}
	if h.erasure.erased {
		return nil, nil
	}
	if r := h.erasure.request(requestID); r != nil {
		if r.ApprovedBy != "" || r.Completed {
			return nil, nil
		}
		return []Event{HouseholdErasureApproved{RequestID: requestID, At: meta.At, By: meta.Actor}}, nil
	}
	ends, ok := h.RetentionEnds(pol, cal)
	if !ok {
		return nil, newError(ErrRule, "retention_not_set", "household_id",
			fmt.Sprintf("household %s is not archived, or policy %s sets no retention period for closed files", h.id, pol.Version),
			fmt.Sprintf("家庭 %s 未归档，或策略 %s 未规定已归档档案的保存期限", h.id, pol.Version))
	}
	if meta.At.Before(ends) {
		return nil, newError(ErrRule, "retention_not_ended", "household_id",
			fmt.Sprintf("household %s is kept until %s under policy %s; it is not erased before", h.id, ends.Format(time.RFC3339), pol.Version),
			fmt.Sprintf("家庭 %s 按策略 %s 保存至 %s，此前不予删除", h.id, pol.Version, ends.Format(time.RFC3339)))
	}
	evs, err := h.RequestErasure(meta, RequestErasure{RequestID: requestID, Scope: EraseHousehold,
		LegalBasis: BasisRetentionExpired, Reference: RetentionReference(pol)})
	if err != nil {
		return nil, err
	}
	return append(evs, HouseholdErasureApproved{RequestID: requestID, At: meta.At, By: meta.Actor}), nil
}
