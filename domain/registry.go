package domain

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Decoder turns stored JSON data into an event payload.
type Decoder func(data []byte) (Event, error)

// Registry maps every durable event type name to its payload decoder. Build
// it with NewRegistry; it is read-only afterwards and safe for concurrent use.
type Registry struct {
	decoders map[string]Decoder
}

func decoderOf[T Event]() Decoder {
	return func(data []byte) (Event, error) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
}

// NewRegistry returns the registry of all domain events.
func NewRegistry() *Registry {
	return &Registry{decoders: map[string]Decoder{
		TypeHouseholdRegistered:          decoderOf[HouseholdRegistered](),
		TypeHouseholdMemberAdded:         decoderOf[HouseholdMemberAdded](),
		TypeHouseholdMemberChanged:       decoderOf[HouseholdMemberChanged](),
		TypeHouseholdMemberLeft:          decoderOf[HouseholdMemberLeft](),
		TypeHouseholdRelocated:           decoderOf[HouseholdRelocated](),
		TypeHouseholdWorkerChanged:       decoderOf[HouseholdWorkerChanged](),
		TypeHouseholdClassChanged:        decoderOf[HouseholdClassChanged](),
		TypeHouseholdCategoryChanged:     decoderOf[HouseholdCategoryChanged](),
		TypeHouseholdRiskChanged:         decoderOf[HouseholdRiskChanged](),
		TypeHouseholdNeedsAssessed:       decoderOf[HouseholdNeedsAssessed](),
		TypeHouseholdResourcesOffered:    decoderOf[HouseholdResourcesOffered](),
		TypeHouseholdConsentRecorded:     decoderOf[HouseholdConsentRecorded](),
		TypeHouseholdArchived:            decoderOf[HouseholdArchived](),
		TypeVisitRecorded:                decoderOf[VisitRecorded](),
		TypeHouseholdDeadlineApproaching: decoderOf[HouseholdDeadlineApproaching](),
		TypeHouseholdDeadlineBreached:    decoderOf[HouseholdDeadlineBreached](),
		TypeHouseholdDeadlineRescheduled: decoderOf[HouseholdDeadlineRescheduled](),
		TypeHouseholdErasureRequested:    decoderOf[HouseholdErasureRequested](),
		TypeHouseholdErasureApproved:     decoderOf[HouseholdErasureApproved](),
		TypeHouseholdErasureCompleted:    decoderOf[HouseholdErasureCompleted](),

		// Consent per member and purpose (consent.go).
		TypeHouseholdMemberConsentRecorded: decoderOf[HouseholdMemberConsentRecorded](),

		TypeHouseholdCircumstancesChanged: decoderOf[HouseholdCircumstancesChanged](),

		TypeCommunitySupervisorAssigned:  decoderOf[CommunitySupervisorAssigned](),
		TypeDepartmentSupervisorAssigned: decoderOf[DepartmentSupervisorAssigned](),

		TypeProblemReported:            decoderOf[ProblemReported](),
		TypeProblemReclassified:        decoderOf[ProblemReclassified](),
		TypeProblemAssigned:            decoderOf[ProblemAssigned](),
		TypeProblemDeadlineExtended:    decoderOf[ProblemDeadlineExtended](),
		TypeProblemProgressNoted:       decoderOf[ProblemProgressNoted](),
		TypeProblemResolved:            decoderOf[ProblemResolved](),
		TypeProblemSatisfactionRated:   decoderOf[ProblemSatisfactionRated](),
		TypeProblemRevisited:           decoderOf[ProblemRevisited](),
		TypeProblemReopened:            decoderOf[ProblemReopened](),
		TypeProblemClosed:              decoderOf[ProblemClosed](),
		TypeProblemDeadlineApproaching: decoderOf[ProblemDeadlineApproaching](),
		TypeProblemDeadlineBreached:    decoderOf[ProblemDeadlineBreached](),
		TypeProblemDeadlineRescheduled: decoderOf[ProblemDeadlineRescheduled](),
		TypeProblemReferred:            decoderOf[ProblemReferred](),

		TypeReferralRequested:           decoderOf[ReferralRequested](),
		TypeReferralAccepted:            decoderOf[ReferralAccepted](),
		TypeReferralDeclined:            decoderOf[ReferralDeclined](),
		TypeReferralStarted:             decoderOf[ReferralStarted](),
		TypeReferralCompleted:           decoderOf[ReferralCompleted](),
		TypeReferralCancelled:           decoderOf[ReferralCancelled](),
		TypeReferralEscalated:           decoderOf[ReferralEscalated](),
		TypeReferralDeadlineApproaching: decoderOf[ReferralDeadlineApproaching](),
		TypeReferralDeadlineBreached:    decoderOf[ReferralDeadlineBreached](),
		TypeReferralDeadlineRescheduled: decoderOf[ReferralDeadlineRescheduled](),

		TypeCalendarYearPublished: decoderOf[CalendarYearPublished](),

		TypeMeasuresPeriodClosed:  decoderOf[MeasuresPeriodClosed](),
		TypeMeasuresPeriodAmended: decoderOf[MeasuresPeriodAmended](),
		TypeMeasuresFlagRaised:    decoderOf[MeasuresFlagRaised](),

		TypeRectificationOpened:              decoderOf[RectificationOpened](),
		TypeRectificationInterviewRecorded:   decoderOf[RectificationInterviewRecorded](),
		TypeRectificationReviewed:            decoderOf[RectificationReviewed](),
		TypeRectificationDeadlineApproaching: decoderOf[RectificationDeadlineApproaching](),
		TypeRectificationDeadlineBreached:    decoderOf[RectificationDeadlineBreached](),
		TypeRectificationDeadlineRescheduled: decoderOf[RectificationDeadlineRescheduled](),

		TypeSpotCheckDrawn:           decoderOf[SpotCheckDrawn](),
		TypeSpotCheckFindingRecorded: decoderOf[SpotCheckFindingRecorded](),

		TypeSurveyOpened:           decoderOf[SurveyOpened](),
		TypeSurveyResponseRecorded: decoderOf[SurveyResponseRecorded](),
		TypeSurveyClosed:           decoderOf[SurveyClosed](),

		TypeFestivalCampaignOpened:    decoderOf[FestivalCampaignOpened](),
		TypeHouseholdFestivalVisitDue: decoderOf[HouseholdFestivalVisitDue](),
	}}
}

// Known reports whether typ is a registered event type.
func (r *Registry) Known(typ string) bool { _, ok := r.decoders[typ]; return ok }

// Types lists the registered event types, sorted.
func (r *Registry) Types() []string {
	ts := make([]string, 0, len(r.decoders))
	for t := range r.decoders {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// Decode decodes the JSON data of an event of type typ. It fails with an
// ErrNotFound *Error ("unknown_event_type") for an unregistered type and an
// ErrInvalid *Error ("invalid_event_data") for data that does not decode.
// Unknown JSON fields are ignored (newer writers may add fields).
func (r *Registry) Decode(typ string, data []byte) (Event, error) {
	dec, ok := r.decoders[typ]
	if !ok {
		return nil, newError(ErrNotFound, "unknown_event_type", "type",
			fmt.Sprintf("event type %q is not known to this version of Doorstep; upgrade before reading this stream", typ),
			fmt.Sprintf("当前版本的系统不认识事件类型 %q；请升级后再读取该事件流", typ))
	}
	ev, err := dec(data)
	if err != nil {
		e := newError(ErrInvalid, "invalid_event_data", "data",
			fmt.Sprintf("the data of a %s event does not decode (%v); the stored event is damaged or from an incompatible version", typ, err),
			fmt.Sprintf("%s 事件的数据无法解码（%v）；存储的事件已损坏或版本不兼容", typ, err))
		e.Err = err
		return nil, e
	}
	return ev, nil
}
