package domain

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Household is the aggregate of one household file ("一户一档"), including
// its visits. The zero value is not usable; start from NewHousehold. Not safe
// for concurrent use.
type Household struct {
	id            string
	version       uint64
	registered    bool
	registeredAt  time.Time
	address       string
	community     string
	grid          string
	worker        string
	class         HouseholdClass
	classByRule   bool // the class is what the policy's rules asked for
	circumstances []Circumstance
	category      AssistanceCategory
	risk          RiskLevel
	needs         map[NeedDomain][]string
	resources     HouseholdResourcesOffered
	consent       bool
	archived      bool
	archiveReason ArchiveReason
	archivedAt    time.Time // when the file was closed (retention.go)
	members       []*Member
	visits        []VisitRecorded
	lastVisit     time.Time // occurred-at of the last completed visit
	needsAt       time.Time // the last needs assessment (needs_update clock)
	revisedAt     time.Time // the last revision of the file (file_revision clock)
	policyVersion string    // recorded by the latest event that set the visit_due rule
	alerts        alertMarks
	second        pendingSecond   // the refusal awaiting a second visit (zero: none)
	erasure       erasures        // erasure requests and what was erased (erasure.go)
	consents      memberConsents  // consent per member and purpose (consent.go)
	festival      pendingFestival // the festival visit due (festival.go; zero: none)
	festivalsDone []string        // campaigns whose festival visit was made or replaced
}

// Member is a household member as folded from events.
type Member struct {
	ID string
	MemberDetails
	JoinedAt   time.Time
	Left       bool
	LeftAt     time.Time
	LeftReason string
}

// NewHousehold returns the empty aggregate for a household id (the stream is
// HouseholdStream(id)).
func NewHousehold(id string) *Household {
	return &Household{id: id, alerts: alertMarks{}}
}

// Getters.
func (h *Household) ID() string                     { return h.id }
func (h *Household) Version() uint64                { return h.version }
func (h *Household) Registered() bool               { return h.registered }
func (h *Household) RegisteredAt() time.Time        { return h.registeredAt }
func (h *Household) Address() string                { return h.address }
func (h *Household) Community() string              { return h.community }
func (h *Household) Grid() string                   { return h.grid }
func (h *Household) ResponsibleWorker() string      { return h.worker }
func (h *Household) Class() HouseholdClass          { return h.class }
func (h *Household) Category() AssistanceCategory   { return h.category }
func (h *Household) ClassByRule() bool              { return h.classByRule }
func (h *Household) Circumstances() []Circumstance  { return slices.Clone(h.circumstances) }
func (h *Household) Risk() RiskLevel                { return h.risk }
func (h *Household) Consent() bool                  { return h.consent }
func (h *Household) Archived() bool                 { return h.archived }
func (h *Household) ArchiveReason() ArchiveReason   { return h.archiveReason }
func (h *Household) LastCompletedVisit() time.Time  { return h.lastVisit }
func (h *Household) Volunteer() bool                { return h.resources.Volunteer }
func (h *Household) Skills() []string               { return slices.Clone(h.resources.Skills) }
func (h *Household) IdleResources() []string        { return slices.Clone(h.resources.Idle) }
func (h *Household) Visits() []VisitRecorded        { return slices.Clone(h.visits) }
func (h *Household) PolicyVersion() string          { return h.policyVersion }
func (h *Household) Needs() map[NeedDomain][]string { return maps.Clone(h.needs) }

// HasVisit reports whether the household's stream holds visit id.
func (h *Household) HasVisit(id string) bool {
	return slices.ContainsFunc(h.visits, func(v VisitRecorded) bool { return v.VisitID == id })
}

// Members returns the current members (not those who left), in joining order.
func (h *Household) Members() []Member {
	var out []Member
	for _, m := range h.members {
		if !m.Left {
			out = append(out, *m)
		}
	}
	return out
}

// Member returns a member by id, including one who left.
func (h *Household) Member(id string) (Member, bool) {
	if m := h.member(id); m != nil {
		return *m, true
	}
	return Member{}, false
}

func (h *Household) member(id string) *Member {
	for _, m := range h.members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// Clocks returns the deadlines the household is running while it is
// registered and not archived: visit_due, started by the last completed
// visit (or registration), and the file upkeep of 001 §2.4.3 (decision
// 0118): needs_update, started by the last needs assessment, and
// file_revision, started by the last change of the file by a person (or
// registration). A policy without file_upkeep derives no deadline for them.
func (h *Household) Clocks() []Clock {
	if !h.registered || h.archived {
		return nil
	}
	later := func(t time.Time) time.Time {
		if t.After(h.registeredAt) {
			return t
		}
		return h.registeredAt
	}
	out := []Clock{
		h.alerts.stamp(Clock{Kind: ClockVisitDue, Subject: h.id, Start: later(h.lastVisit), PolicyVersion: h.policyVersion,
			HouseholdClass: h.class, Responsible: h.worker}),
		h.alerts.stamp(Clock{Kind: ClockNeedsUpdate, Subject: h.id, Start: later(h.needsAt), PolicyVersion: h.policyVersion,
			HouseholdClass: h.class, Responsible: h.worker}),
		h.alerts.stamp(Clock{Kind: ClockFileRevision, Subject: h.id, Start: later(h.revisedAt), PolicyVersion: h.policyVersion,
			HouseholdClass: h.class, Responsible: h.worker}),
	}
	if c, ok := h.festivalClock(); ok {
		out = append(out, c)
	}
	if h.second.visitID != "" {
		out = append(out, h.alerts.stamp(Clock{Kind: ClockSecondVisit, Subject: h.id, Start: h.second.at, PolicyVersion: h.second.policyVersion,
			HouseholdClass: h.class, Responsible: h.worker}))
	}
	return out
}

// pendingSecond is a refusal or nobody-at-home awaiting its second visit.
type pendingSecond struct {
	visitID       string
	at            time.Time
	policyVersion string
}

// SecondVisitDue returns the refusal (or nobody at home) awaiting a second
// visit by the community secretary or a grid worker (001 §6.3), if any.
func (h *Household) SecondVisitDue() (visitID string, since time.Time, ok bool) {
	return h.second.visitID, h.second.at, h.second.visitID != ""
}

// FileRevisedAt returns the last revision of the household file by a
// person (a change of members, address, category, circumstances, risk,
// needs, resources or consent; zero: none since registration).
func (h *Household) FileRevisedAt() time.Time { return h.revisedAt }

// NeedsUpdatedAt returns the last needs assessment (zero: none).
func (h *Household) NeedsUpdatedAt() time.Time { return h.needsAt }

// Apply folds one event into the household. It never fails.
func (h *Household) Apply(e Event) {
	h.version++
	if at, ok := fileRevision(e); ok && at.After(h.revisedAt) {
		h.revisedAt = at
	}
	switch e := e.(type) {
	case HouseholdRegistered:
		h.registered, h.registeredAt = true, e.At
		h.address, h.community, h.grid, h.worker = e.Address, e.Community, e.Grid, e.ResponsibleWorker
		h.class, h.category, h.risk, h.policyVersion = e.Class, e.Category, e.Risk, e.PolicyVersion
		h.circumstances, h.classByRule = slices.Clone(e.Circumstances), e.ClassBy == ClassByRule
	case HouseholdMemberAdded:
		h.members = append(h.members, &Member{ID: e.MemberID, MemberDetails: e.MemberDetails, JoinedAt: e.At})
	case HouseholdMemberChanged:
		if m := h.member(e.MemberID); m != nil {
			m.MemberDetails = e.MemberDetails
		}
	case HouseholdMemberLeft:
		if m := h.member(e.MemberID); m != nil {
			m.Left, m.LeftAt, m.LeftReason = true, e.At, e.Reason
		}
	case HouseholdRelocated:
		h.address, h.community, h.grid = e.Address, e.Community, e.Grid
	case HouseholdWorkerChanged:
		h.worker = e.To
	case HouseholdClassChanged:
		h.class, h.policyVersion, h.classByRule = e.To, e.PolicyVersion, e.ClassBy == ClassByRule
	case HouseholdCircumstancesChanged:
		h.circumstances = slices.Clone(e.To)
	case HouseholdCategoryChanged:
		h.category = e.To
	case HouseholdRiskChanged:
		h.risk = e.To
	case HouseholdNeedsAssessed:
		h.needs = maps.Clone(e.Needs)
		if e.At.After(h.needsAt) {
			h.needsAt = e.At
		}
	case HouseholdResourcesOffered:
		h.resources = e
	case HouseholdConsentRecorded:
		h.consent = e.Given
	case HouseholdArchived:
		h.archived, h.archiveReason, h.archivedAt = true, e.Reason, e.At
	case HouseholdFestivalVisitDue:
		h.applyFestival(e)
	case VisitRecorded:
		h.visits = append(h.visits, e)
		h.applyFestival(e)
		if e.SecondVisitFor != "" && e.SecondVisitFor == h.second.visitID {
			h.second = pendingSecond{}
		}
		if e.SecondVisitRequired {
			h.second = pendingSecond{visitID: e.VisitID, at: e.OccurredAt, policyVersion: e.PolicyVersion}
		}
		if e.Outcome == OutcomeCompleted && !e.NotCounted && e.OccurredAt.After(h.lastVisit) {
			h.lastVisit, h.policyVersion = e.OccurredAt, e.PolicyVersion
		}
	case HouseholdDeadlineApproaching:
		h.alerts.record(e.DeadlineAlert, StageApproaching)
	case HouseholdDeadlineBreached:
		h.alerts.record(e.DeadlineAlert, StageBreached)
	case HouseholdDeadlineRescheduled:
		h.alerts.reschedule(e.DeadlineRescheduled)
	case HouseholdErasureRequested, HouseholdErasureApproved, HouseholdErasureCompleted:
		h.erasure.apply(e)
	case HouseholdMemberConsentRecorded:
		h.consents.apply(e)
	}
}

// fileRevision reports whether e revises the household file (一户一档) and
// when: the file's content changed by a person. A needs assessment that
// finds nothing changed still counts: it is the record that the file was
// gone through.
func fileRevision(e Event) (time.Time, bool) {
	switch e := e.(type) {
	case HouseholdMemberAdded:
		return e.At, true
	case HouseholdMemberChanged:
		return e.At, true
	case HouseholdMemberLeft:
		return e.At, true
	case HouseholdRelocated:
		return e.At, true
	case HouseholdCategoryChanged:
		return e.At, true
	case HouseholdCircumstancesChanged:
		return e.At, true
	case HouseholdRiskChanged:
		return e.At, true
	case HouseholdNeedsAssessed:
		return e.At, true
	case HouseholdResourcesOffered:
		return e.At, true
	case HouseholdConsentRecorded:
		return e.At, true
	}
	return time.Time{}, false
}

// active checks that commands may change the household.
func (h *Household) active(meta Meta) error {
	if err := meta.check(); err != nil {
		return err
	}
	if !h.registered {
		return newError(ErrNotFound, "household_not_found", "household_id",
			fmt.Sprintf("household %s is not registered; register it first", h.id),
			fmt.Sprintf("家庭 %s 尚未登记；请先登记", h.id))
	}
	if h.archived {
		return newError(ErrRule, "household_archived", "household_id",
			fmt.Sprintf("household %s is archived (%s); nothing more can be recorded on it", h.id, h.archiveReason),
			fmt.Sprintf("家庭 %s 已归档（%s）；不能再记录任何内容", h.id, h.archiveReason))
	}
	return nil
}

func reasonRequired(field string) *Error {
	return required(field, "a reason", "原因")
}

func noChange(field, what, whatZH, value string) *Error {
	return newError(ErrRule, "no_change", field,
		fmt.Sprintf("%s is already %q; nothing to change", what, Clip(value, MaxEchoBytes)),
		fmt.Sprintf("%s已经是 %q；无需变更", whatZH, Clip(value, MaxEchoBytes)))
}

// RegisterHousehold is the input of Household.Register.
type RegisterHousehold struct {
	Address           string
	Community         string
	Grid              string
	ResponsibleWorker string
	Class             HouseholdClass
	Category          AssistanceCategory
	Risk              RiskLevel
	// Circumstances the policy's class rules look at.
	Circumstances []Circumstance
	// ClassReason is required when Class is below what the policy's rules
	// ask for (an override). An empty Class takes the rules' class.
	ClassReason string
}

// Register opens the household file. It fails with ErrConflict
// ("household_exists") when the household is already registered.
func (h *Household) Register(meta Meta, pol *Policy, in RegisterHousehold) ([]Event, error) {
	if err := meta.check(); err != nil {
		return nil, err
	}
	if h.registered {
		return nil, newError(ErrConflict, "household_exists", "household_id",
			// The same answer for every caller, whether or not it may see
			// the household (decision 0088).
			fmt.Sprintf("household id %s is already taken: if it is the household you mean, change its file instead of registering it again; otherwise register with another id, or leave household_id out to have one made", h.id),
			fmt.Sprintf("家庭编号 %s 已被占用：如是同一家庭，请修改现有档案，不要重复登记；否则请换一个编号，或不填 household_id 由系统生成", h.id))
	}
	switch {
	case h.id == "":
		return nil, required("household_id", "the household id", "家庭编号")
	}
	if err := CheckID("household_id", h.id); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(in.Address) == "":
		return nil, required("address", "the address", "地址")
	case in.Community == "":
		return nil, required("community", "the community", "社区")
	case in.Grid == "":
		return nil, required("grid", "the grid", "网格")
	case in.ResponsibleWorker == "":
		return nil, required("responsible_worker", "the responsible worker", "责任人")
	}
	if err := checkPlace(in.Address, in.Community, in.Grid); err != nil {
		return nil, err
	}
	if err := CheckName("responsible_worker", in.ResponsibleWorker); err != nil {
		return nil, err
	}
	if err := checkCategory(in.Category); err != nil {
		return nil, err
	}
	circ, err := checkCircumstances(in.Circumstances)
	if err != nil {
		return nil, err
	}
	var by ClassBasis
	var rule string
	if pol.HasClassRules() {
		var want HouseholdClass
		want, rule = pol.ClassFor(in.Category, circ)
		if in.Class == "" {
			in.Class = want
		}
		switch r, w := classRank(in.Class), classRank(want); {
		case r == w:
			by = ClassByRule
		case r > w:
			by = ClassByStated
		default:
			if in.ClassReason == "" {
				return nil, classReasonRequired("class_reason", in.Class, want, rule, pol.Version)
			}
			by = ClassByOverride
		}
	}
	if err := checkClass(in.Class); err != nil {
		return nil, err
	}
	if in.ClassReason != "" {
		if err := CheckText("class_reason", in.ClassReason); err != nil {
			return nil, err
		}
	}
	if err := checkRisk(in.Risk); err != nil {
		return nil, err
	}
	return []Event{HouseholdRegistered{HouseholdID: h.id, Address: in.Address, Community: in.Community, Grid: in.Grid,
		ResponsibleWorker: in.ResponsibleWorker, Class: in.Class, Category: in.Category, Risk: in.Risk,
		Circumstances: circ, ClassBy: by, ClassRule: rule, ClassReason: in.ClassReason,
		PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

func ruleZH(rule string) string { _, zh := ClassRuleLabel(rule); return zh }

func classReasonRequired(field string, class, want HouseholdClass, rule, version string) *Error {
	return newError(ErrRule, "class_reason_required", field,
		fmt.Sprintf("policy %s puts a household with %s in class %q; a lower class %q is an override and needs a reason", version, rule, want, class),
		fmt.Sprintf("策略 %s 规定具有%s的家庭属于 %q 类；设为较低的 %q 类属于例外调整，须说明原因", version, ruleZH(rule), want, class))
}

// checkCircumstances checks the circumstances and returns them sorted and
// without repeats.
func checkCircumstances(cs []Circumstance) ([]Circumstance, error) {
	if len(cs) > len(Circumstances()) {
		cs = slices.Compact(slices.Sorted(slices.Values(cs)))
	}
	for _, c := range cs {
		if !oneOf(c, Circumstances()...) {
			all := Circumstances()
			return nil, badValue("circumstances", "household circumstance", "家庭情况", c, all...)
		}
	}
	out := slices.Compact(slices.Sorted(slices.Values(cs)))
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// followRule returns the class change the policy's rules ask for after the
// category or circumstances become cat and circ: a class set by rule
// follows the rule both ways; a class set by a person is kept unless the
// rule asks for more. No rules: nothing.
func (h *Household) followRule(meta Meta, pol *Policy, cat AssistanceCategory, circ []Circumstance) []Event {
	if !pol.HasClassRules() {
		return nil
	}
	want, rule := pol.ClassFor(cat, circ)
	if want == h.class || (!h.classByRule && classRank(want) < classRank(h.class)) {
		return nil
	}
	if rule == "" {
		rule = "no rule matches"
	}
	return []Event{HouseholdClassChanged{From: h.class, To: want, ClassBy: ClassByRule, Rule: rule,
		Reason:        fmt.Sprintf("class follows the rule of policy %s (%s) / 按策略 %s 的规则调整类别（%s）", pol.Version, rule, pol.Version, rule),
		PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}
}

// checkPlace checks where a household lives: the address is a name-sized
// text on one line, community and grid are names (no NUL, no line breaks,
// no invisible formatting), since scopes and read models key on them.
func checkPlace(address, community, grid string) error {
	if err := CheckName("address", address); err != nil {
		return err
	}
	if err := CheckName("community", community); err != nil {
		return err
	}
	return CheckName("grid", grid)
}

func checkClass(c HouseholdClass) error {
	if !oneOf(c, HouseholdClasses()...) {
		return badValue("class", "household class", "家庭类别", c, HouseholdClasses()...)
	}
	return nil
}

func checkCategory(c AssistanceCategory) error {
	if !oneOf(c, CategoryNone, CategoryTeKun, CategoryDiBao, CategoryMarginal, CategoryTemporary) {
		return badValue("category", "assistance category (empty for none)", "救助类别（无则留空）", c, CategoryTeKun, CategoryDiBao, CategoryMarginal, CategoryTemporary)
	}
	return nil
}

func checkRisk(r RiskLevel) error {
	if !oneOf(r, RiskRed, RiskYellow, RiskBlue, RiskGreen) {
		return badValue("risk", "risk level", "风险等级", r, RiskRed, RiskYellow, RiskBlue, RiskGreen)
	}
	return nil
}

func (h *Household) checkMember(d MemberDetails) error {
	if strings.TrimSpace(d.Name) == "" {
		return required("name", "the member's name", "成员姓名")
	}
	if d.Relation == "" {
		return required("relation", "the member's relation", "成员关系")
	}
	if err := checkMemberText(d); err != nil {
		return err
	}
	if d.sensitive() && !h.consent {
		return h.consentRequired()
	}
	return nil
}

// checkMemberText checks the text fields d sets (an empty one is not
// set): names by the one text rule, the birth date as a date.
func checkMemberText(d MemberDetails) error {
	for _, f := range [][2]string{{"name", d.Name}, {"relation", d.Relation}, {"occupation", d.Occupation}} {
		if err := CheckName(f[0], f[1]); err != nil {
			return err
		}
	}
	if d.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, d.BirthDate); err != nil {
			return newError(ErrInvalid, "invalid_birth_date", "birth_date",
				fmt.Sprintf("birth date %q is not a date; write it as YYYY-MM-DD", Clip(d.BirthDate, MaxEchoBytes)),
				fmt.Sprintf("出生日期 %q 格式不正确；请按 YYYY-MM-DD 填写", Clip(d.BirthDate, MaxEchoBytes)))
		}
	}
	return nil
}

func (h *Household) consentRequired() *Error {
	return newError(ErrRule, "consent_required", "consent",
		fmt.Sprintf("household %s has not consented to data collection; record consent before entering identity, contact, income, health or disability data", h.id),
		fmt.Sprintf("家庭 %s 尚未同意信息采集；录入身份证号、联系方式、收入、健康或残疾信息前请先记录知情同意", h.id))
}

// AddMember adds a member under a new member id. Sensitive fields need consent.
func (h *Household) AddMember(meta Meta, memberID string, d MemberDetails) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if memberID == "" {
		return nil, required("member_id", "the member id", "成员编号")
	}
	if err := CheckID("member_id", memberID); err != nil {
		return nil, err
	}
	if h.member(memberID) != nil {
		return nil, newError(ErrConflict, "member_exists", "member_id",
			fmt.Sprintf("member %s is already in household %s; change the member instead", memberID, h.id),
			fmt.Sprintf("成员 %s 已在家庭 %s 中；请修改该成员信息", memberID, h.id))
	}
	if err := h.checkMember(d); err != nil {
		return nil, err
	}
	return []Event{HouseholdMemberAdded{MemberID: memberID, MemberDetails: d, At: meta.At, By: meta.Actor}}, nil
}

func (h *Household) currentMember(memberID string) (*Member, error) {
	m := h.member(memberID)
	if m == nil || m.Left {
		return nil, newError(ErrNotFound, "member_not_found", "member_id",
			fmt.Sprintf("household %s has no current member %s; check the member id", h.id, memberID),
			fmt.Sprintf("家庭 %s 没有现有成员 %s；请核对成员编号", h.id, memberID))
	}
	return m, nil
}

// ChangeMember changes a current member's details; a reason is required.
// The change is merged into the details the member has: a field left empty
// (or zero) in d keeps its value, so changing a phone number does not
// erase the id number, income or health. The event carries the merged
// details. Sensitive fields given in d need consent.
func (h *Household) ChangeMember(meta Meta, memberID string, d MemberDetails, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	cur, err := h.currentMember(memberID)
	if err != nil {
		return nil, err
	}
	if err := h.checkMemberConsent(memberID, d); err != nil {
		return nil, err
	}
	// What the change sets is checked; what it keeps was checked when it
	// was recorded, and is held as the log holds it, a sealed token for a
	// name, birth date or occupation (decision 0108), which the text rule
	// would refuse (issue 13 item 14: a change of the phone alone failed).
	if strings.TrimSpace(d.Name) == "" && d.Name != "" {
		return nil, required("name", "the member's name", "成员姓名")
	}
	if err := checkMemberText(d); err != nil {
		return nil, err
	}
	merged := mergeDetails(cur.MemberDetails, d)
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	if err := CheckText("reason", reason); err != nil {
		return nil, err
	}
	return []Event{HouseholdMemberChanged{MemberID: memberID, MemberDetails: merged, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// mergeDetails returns cur with every field that change sets replaced.
func mergeDetails(cur, change MemberDetails) MemberDetails {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	seal := func(dst *Sealed, v Sealed) {
		if !v.IsZero() {
			*dst = v
		}
	}
	set(&cur.Name, change.Name)
	set(&cur.Relation, change.Relation)
	set(&cur.BirthDate, change.BirthDate)
	set(&cur.Occupation, change.Occupation)
	seal(&cur.IDNumber, change.IDNumber)
	seal(&cur.Phone, change.Phone)
	seal(&cur.Income, change.Income)
	seal(&cur.Health, change.Health)
	seal(&cur.Disability, change.Disability)
	return cur
}

// RemoveMember records that a current member left; a reason is required.
func (h *Household) RemoveMember(meta Meta, memberID, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if _, err := h.currentMember(memberID); err != nil {
		return nil, err
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{HouseholdMemberLeft{MemberID: memberID, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// Relocate moves the household to a new address (and possibly community and
// grid) within the area served.
func (h *Household) Relocate(meta Meta, address, community, grid, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(address) == "":
		return nil, required("address", "the address", "地址")
	case community == "":
		return nil, required("community", "the community", "社区")
	case grid == "":
		return nil, required("grid", "the grid", "网格")
	case reason == "":
		return nil, reasonRequired("reason")
	case address == h.address && community == h.community && grid == h.grid:
		return nil, noChange("address", "the address", "地址", address)
	}
	if err := checkPlace(address, community, grid); err != nil {
		return nil, err
	}
	if err := CheckText("reason", reason); err != nil {
		return nil, err
	}
	return []Event{HouseholdRelocated{FromAddress: h.address, FromCommunity: h.community, FromGrid: h.grid,
		Address: address, Community: community, Grid: grid, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// AssignWorker makes another worker responsible for the household.
func (h *Household) AssignWorker(meta Meta, worker, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	switch {
	case worker == "":
		return nil, required("to", "the responsible worker", "责任人")
	case worker == h.worker:
		return nil, noChange("to", "the responsible worker", "责任人", worker)
	case reason == "":
		return nil, reasonRequired("reason")
	}
	return []Event{HouseholdWorkerChanged{From: h.worker, To: worker, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// ChangeClass changes the household class (and so its visit frequency under
// pol); a reason is required.
func (h *Household) ChangeClass(meta Meta, pol *Policy, to HouseholdClass, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if err := checkClass(to); err != nil {
		return nil, err
	}
	if to == h.class {
		return nil, noChange("class", "the household class", "家庭类别", string(to))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	if err := CheckText("reason", reason); err != nil {
		return nil, err
	}
	var by ClassBasis
	if pol.HasClassRules() {
		by = ClassByOverride
		if want, _ := pol.ClassFor(h.category, h.circumstances); want == to {
			by = ClassByRule
		}
	}
	return []Event{HouseholdClassChanged{From: h.class, To: to, Reason: reason, ClassBy: by, PolicyVersion: pol.Version, At: meta.At, By: meta.Actor}}, nil
}

// ChangeCircumstances replaces the circumstances; a reason is required. The
// class follows under pol's rules (see ChangeCategory).
func (h *Household) ChangeCircumstances(meta Meta, pol *Policy, to []Circumstance, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	circ, err := checkCircumstances(to)
	if err != nil {
		return nil, err
	}
	if slices.Equal(circ, h.circumstances) {
		return nil, noChange("circumstances", "the circumstances", "家庭情况", fmt.Sprint(circ))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	if err := CheckText("reason", reason); err != nil {
		return nil, err
	}
	evs := []Event{HouseholdCircumstancesChanged{From: slices.Clone(h.circumstances), To: circ, Reason: reason, At: meta.At, By: meta.Actor}}
	return append(evs, h.followRule(meta, pol, h.category, circ)...), nil
}

// ChangeCategory changes the assistance category ("" = none); a reason is
// required. Under a policy with class rules the class follows: a class set
// by rule becomes what the rules ask for; a class set by a person is raised
// when the rules ask for more, and otherwise kept (a HouseholdClassChanged
// with ClassBy rule follows the category change).
func (h *Household) ChangeCategory(meta Meta, pol *Policy, to AssistanceCategory, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if err := checkCategory(to); err != nil {
		return nil, err
	}
	if to == h.category {
		return nil, noChange("category", "the assistance category", "救助类别", string(to))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	evs := []Event{HouseholdCategoryChanged{From: h.category, To: to, Reason: reason, At: meta.At, By: meta.Actor}}
	return append(evs, h.followRule(meta, pol, to, h.circumstances)...), nil
}

// ChangeRisk changes the risk level; a reason is required.
func (h *Household) ChangeRisk(meta Meta, to RiskLevel, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if err := checkRisk(to); err != nil {
		return nil, err
	}
	if to == h.risk {
		return nil, noChange("risk", "the risk level", "风险等级", string(to))
	}
	if reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{HouseholdRiskChanged{From: h.risk, To: to, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// AssessNeeds replaces the needs in the five domains.
func (h *Household) AssessNeeds(meta Meta, needs map[NeedDomain][]string, note string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	clean := map[NeedDomain][]string{}
	for d, subs := range needs {
		if !oneOf(d, NeedElderlyCare, NeedMedical, NeedEducation, NeedEmployment, NeedCulture) {
			return nil, badValue("needs", "need domain", "需求领域", d, NeedElderlyCare, NeedMedical, NeedEducation, NeedEmployment, NeedCulture)
		}
		if len(subs) > 0 {
			clean[d] = slices.Clone(subs)
		}
	}
	return []Event{HouseholdNeedsAssessed{Needs: clean, Note: note, At: meta.At, By: meta.Actor}}, nil
}

// OfferResources replaces what the household offers (skills, volunteering, idle resources).
func (h *Household) OfferResources(meta Meta, skills []string, volunteer bool, idle []string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	return []Event{HouseholdResourcesOffered{Skills: slices.Clone(skills), Volunteer: volunteer, Idle: slices.Clone(idle), At: meta.At, By: meta.Actor}}, nil
}

// RecordConsent records consent to data collection given or withdrawn.
// Withdrawing needs a reason. Recording the state it is already in is a
// "no_change" error.
func (h *Household) RecordConsent(meta Meta, given bool, scope, reason string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if given == h.consent {
		return nil, noChange("given", "consent", "知情同意", fmt.Sprint(given))
	}
	if !given && reason == "" {
		return nil, reasonRequired("reason")
	}
	return []Event{HouseholdConsentRecorded{Given: given, Scope: scope, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// Archive closes the household file (moved away, dissolved, …).
func (h *Household) Archive(meta Meta, reason ArchiveReason, note string) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	if !oneOf(reason, ArchiveMovedAway, ArchiveDissolved, ArchiveOther) {
		return nil, badValue("reason", "archive reason", "归档原因", reason, ArchiveMovedAway, ArchiveDissolved, ArchiveOther)
	}
	if reason == ArchiveOther && note == "" {
		return nil, required("note", "a note explaining the archive", "归档说明")
	}
	return []Event{HouseholdArchived{Reason: reason, Note: note, At: meta.At, By: meta.Actor}}, nil
}

// RecordVisit is the input of Household.RecordVisit.
type RecordVisit struct {
	VisitID string
	// Team names the team (the recorder taking their account's team
	// role) when Members is empty; Members names it with roles.
	Team           []string
	Members        []TeamMember
	Purpose        VisitPurpose
	Covered        []Understanding
	NextContact    *NextContact
	Relief         []Relief
	OccurredAt     time.Time
	Mode           VisitMode
	Outcome        VisitOutcome
	Understandings Understandings
	Observations   string
	Summary        string
	Attachments    []string
	CheckIn        *CheckIn
	ProblemIDs     []string
	// Communication on a completed visit and, when ineffective, its reason
	// (沟通无效, 001 §6.2; decision 0145). Empty: effective.
	Communication       Communication
	CommunicationReason CommunicationReason
}

// RecordVisit records a visit, including a refusal or "nobody home". meta.At
// is the entry time: the visit must not lie in its future, and entry after
// pol.VisitEntry marks the visit Late (it is still recorded). Problems found
// and the five understandings belong only to completed visits; sealed
// understandings need consent.
func (h *Household) RecordVisit(meta Meta, pol *Policy, in RecordVisit) ([]Event, error) {
	if err := h.active(meta); err != nil {
		return nil, err
	}
	switch {
	case in.VisitID == "":
		return nil, required("visit_id", "the visit id", "走访编号")
	case in.OccurredAt.IsZero():
		return nil, required("occurred_at", "the time of the visit", "走访时间")
	}
	if err := CheckID("visit_id", in.VisitID); err != nil {
		return nil, err
	}
	if err := CheckInstant("occurred_at", in.OccurredAt); err != nil {
		return nil, err
	}
	members, persons, err := visitTeam(meta, in)
	if err != nil {
		return nil, err
	}
	if in.CheckIn != nil && !in.CheckIn.At.IsZero() {
		if err := CheckInstant("check_in.at", in.CheckIn.At); err != nil {
			return nil, err
		}
	}
	if err := checkVisitFields(pol, in); err != nil {
		return nil, err
	}
	for _, id := range in.ProblemIDs {
		if err := CheckID("problem_ids", id); err != nil {
			return nil, err
		}
	}
	for _, v := range h.visits {
		if v.VisitID == in.VisitID {
			return nil, newError(ErrConflict, "visit_exists", "visit_id",
				fmt.Sprintf("visit %s is already recorded on household %s", in.VisitID, h.id),
				fmt.Sprintf("走访 %s 已记录在家庭 %s 中", in.VisitID, h.id))
		}
	}
	if in.OccurredAt.After(meta.At) {
		return nil, newError(ErrInvalid, "visit_in_future", "occurred_at",
			fmt.Sprintf("the visit time %s is later than the entry time %s; record a visit after it happened", in.OccurredAt.Format(time.RFC3339), meta.At.Format(time.RFC3339)),
			fmt.Sprintf("走访时间 %s 晚于录入时间 %s；请在走访完成后再录入", in.OccurredAt.Format(time.RFC3339), meta.At.Format(time.RFC3339)))
	}
	if !oneOf(in.Mode, ModeHome, ModePhone, ModeVideo, ModeOnline) {
		return nil, badValue("mode", "visit mode", "走访方式", in.Mode, ModeHome, ModePhone, ModeVideo, ModeOnline)
	}
	if !oneOf(in.Outcome, OutcomeCompleted, OutcomeRefused, OutcomeNobodyHome) {
		return nil, badValue("outcome", "visit outcome", "走访结果", in.Outcome, OutcomeCompleted, OutcomeRefused, OutcomeNobodyHome)
	}
	if in.Outcome != OutcomeCompleted && (len(in.ProblemIDs) > 0 || !in.Understandings.isZero() || len(in.Covered) > 0) {
		return nil, newError(ErrRule, "visit_not_completed", "outcome",
			fmt.Sprintf("a visit with outcome %q cannot record findings or problems; record the refusal or absence only", in.Outcome),
			fmt.Sprintf("结果为 %q 的走访不能记录了解情况或问题；请只记录拒访或无人在家", in.Outcome))
	}
	if err := checkCommunication(in); err != nil {
		return nil, err
	}
	if in.Understandings.sensitive() && !h.consent {
		return nil, h.consentRequired()
	}
	covered := in.Understandings.covered()
	for _, u := range in.Covered {
		if !slices.Contains(covered, u) {
			covered = append(covered, u)
		}
	}
	slices.SortFunc(covered, func(a, b Understanding) int {
		return slices.Index(FiveUnderstandings(), a) - slices.Index(FiveUnderstandings(), b)
	})
	if err := checkVisitRecord(meta, pol, h.class, in, members, persons, covered); err != nil {
		return nil, err
	}
	if err := h.checkRelief(in); err != nil {
		return nil, err
	}
	late := meta.At.Sub(in.OccurredAt) > pol.VisitEntry.duration()
	notCounted := in.Outcome == OutcomeCompleted && !pol.VisitCounts(h.class, in.Mode)
	secondRequired, secondFor := h.secondVisit(pol, in, members)
	return []Event{VisitRecorded{VisitID: in.VisitID, Team: persons, Members: members, Purpose: in.Purpose, Covered: covered, NextContact: in.NextContact,
		Relief: cloneRelief(in.Relief), OccurredAt: in.OccurredAt, RecordedAt: meta.At,
		Mode: in.Mode, Outcome: in.Outcome, Understandings: in.Understandings, Observations: in.Observations, Summary: in.Summary,
		Attachments: slices.Clone(in.Attachments), CheckIn: in.CheckIn, ProblemIDs: slices.Clone(in.ProblemIDs),
		Late: late, NotCounted: notCounted, SecondVisitRequired: secondRequired, SecondVisitFor: secondFor,
		Communication: in.Communication, CommunicationReason: in.CommunicationReason, PolicyVersion: pol.Version, By: meta.Actor}}, nil
}

// secondVisit decides a visit's part in the second-visit rule (001 §6.3,
// decision 0121): whether it is the second visit for the pending refusal
// (after it, by a team with a role the policy names, whatever its
// outcome), and whether it needs one itself (a refusal or nobody at home
// under a policy with the rule).
func (h *Household) secondVisit(pol *Policy, in RecordVisit, members []TeamMember) (required bool, forVisit string) {
	if h.second.visitID != "" && in.OccurredAt.After(h.second.at) {
		roles := pol.SecondVisit.Roles
		if len(roles) == 0 { // the pending refusal was recorded under a policy with the rule
			roles = []TeamRole{TeamSecretary, TeamGridWorker}
		}
		if slices.ContainsFunc(members, func(m TeamMember) bool { return slices.Contains(roles, m.Role) }) {
			forVisit = h.second.visitID
		}
	}
	// A refusal by a team that could not make the second visit leaves the
	// pending one (and its deadline) as it was.
	required = pol.SecondVisit.enabled() && (in.Outcome == OutcomeRefused || in.Outcome == OutcomeNobodyHome) &&
		(h.second.visitID == "" || forVisit != "")
	return required, forVisit
}

// RescheduleDeadline records that a running deadline derived as old (with
// the calendar in force before) is next under the calendar in force now.
// It returns no events when nothing moved or the clock no longer runs with
// old, so the watcher may retry freely.
func (h *Household) RescheduleDeadline(meta Meta, old, next Deadline) ([]Event, error) {
	e, noop, err := decideReschedule(meta, h.Clocks(), old, next)
	if err != nil || noop {
		return nil, err
	}
	return []Event{HouseholdDeadlineRescheduled{e}}, nil
}

// RecordDeadlineAlert records an approaching or breached alert on a running
// clock (see Clocks and PolicySet.Deadline). It returns no events and no
// error when the same alert is already recorded, so the watcher may retry.
// It fails with "clock_not_running" (ErrConflict) when d no longer matches a
// running clock and with ErrRule when meta.At is too early.
func (h *Household) RecordDeadlineAlert(meta Meta, d Deadline, stage AlertStage, supervisor string) ([]Event, error) {
	a, noop, err := decideAlert(meta, h.Clocks(), d, stage, supervisor)
	if err != nil || noop {
		return nil, err
	}
	if stage == StageBreached {
		return []Event{HouseholdDeadlineBreached{a}}, nil
	}
	return []Event{HouseholdDeadlineApproaching{a}}, nil
}
