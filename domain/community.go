package domain

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// TypeCommunitySupervisorAssigned is the event type of
// CommunitySupervisorAssigned.
const TypeCommunitySupervisorAssigned = "community.supervisor_assigned"

// CommunityStream is the stream of a community's assignments: who
// supervises it. The deadline watcher sends a community's alerts to the
// supervisor recorded here.
func CommunityStream(community string) string { return "community-" + community }

// MaxPersonNameBytes bounds a person's name recorded as a community's
// supervisor.
const MaxPersonNameBytes = 128

// CommunitySupervisorAssigned: Supervisor supervises Community from At on
// (replacing whoever did before); deadline alerts of the community's
// households, problems and referrals go to them.
type CommunitySupervisorAssigned struct {
	Community  string    `json:"community"`
	Supervisor string    `json:"supervisor"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
}

// EventType implements Event.
func (CommunitySupervisorAssigned) EventType() string { return TypeCommunitySupervisorAssigned }

// Community is the aggregate of one community's assignments (its stream
// is CommunityStream(name)). The zero value is not usable; start from
// NewCommunity. Not safe for concurrent use.
type Community struct {
	name       string
	version    uint64
	supervisor string
	since      time.Time
}

// NewCommunity returns the empty aggregate of the community name.
func NewCommunity(name string) *Community { return &Community{name: name} }

// Name returns the community's name.
func (c *Community) Name() string { return c.name }

// Version implements Aggregate.
func (c *Community) Version() uint64 { return c.version }

// Supervisor returns who supervises the community ("" when nobody was
// assigned) and since when.
func (c *Community) Supervisor() (string, time.Time) { return c.supervisor, c.since }

// Apply implements Aggregate.
func (c *Community) Apply(e Event) {
	c.version++
	if a, ok := e.(CommunitySupervisorAssigned); ok {
		c.supervisor, c.since = a.Supervisor, a.At
	}
}

// AssignSupervisor records that supervisor supervises the community from
// meta.At on. The community name follows the id rule (it names a stream);
// the supervisor is a person's name of at most MaxPersonNameBytes of
// UTF-8. Assigning the supervisor already in charge fails with "no_change".
func (c *Community) AssignSupervisor(meta Meta, supervisor, reason string) ([]Event, error) {
	if err := checkSupervisorAssignment(meta, "community", c.name, supervisor, reason, c.supervisor, "the community's supervisor", "社区督导"); err != nil {
		return nil, err
	}
	return []Event{CommunitySupervisorAssigned{Community: c.name, Supervisor: supervisor, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}

// checkSupervisorAssignment holds the rules every assignment of a
// supervisor follows (a community's, a receiving department's): the unit's
// name follows the id rule of field (it names a stream), the instant is in
// the domain's range, the supervisor is a person's name of at most
// MaxPersonNameBytes of UTF-8, the reason is bounded, and assigning the one
// already in charge (current) fails with "no_change" naming what (en, zh).
func checkSupervisorAssignment(meta Meta, field, name, supervisor, reason, current, en, zh string) error {
	if err := CheckID(field, name); err != nil {
		return err
	}
	if err := CheckInstant("at", meta.At); err != nil {
		return err
	}
	switch {
	case supervisor == "":
		return required("supervisor", "the supervisor's name", "督导姓名")
	case len(supervisor) > MaxPersonNameBytes || !utf8.ValidString(supervisor):
		return newError(ErrInvalid, "invalid_name", "supervisor",
			fmt.Sprintf("the supervisor's name must be valid UTF-8 of at most %d bytes; it is %d bytes", MaxPersonNameBytes, len(supervisor)),
			fmt.Sprintf("督导姓名须为不超过 %d 字节的有效 UTF-8 文本；现为 %d 字节", MaxPersonNameBytes, len(supervisor)))
	case len(reason) > MaxPersonNameBytes*8 || !utf8.ValidString(reason):
		return newError(ErrInvalid, "invalid_text", "reason",
			fmt.Sprintf("the reason must be valid UTF-8 of at most %d bytes", MaxPersonNameBytes*8),
			fmt.Sprintf("原因须为不超过 %d 字节的有效 UTF-8 文本", MaxPersonNameBytes*8))
	case supervisor == current:
		return noChange("supervisor", en, zh, supervisor)
	}
	return nil
}
