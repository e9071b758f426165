package domain

import "time"

// TypeDepartmentSupervisorAssigned is the event type of
// DepartmentSupervisorAssigned.
const TypeDepartmentSupervisorAssigned = "department.supervisor_assigned"

// DepartmentStream is the stream of a receiving organisation's assignments
// (a department, street office, community committee or partner named as a
// referral's receiver, e.g. 区住建局): who supervises it. The deadline
// watcher sends the alerts of referrals addressed to it to the supervisor
// recorded here.
func DepartmentStream(department string) string { return "department-" + department }

// DepartmentSupervisorAssigned: Supervisor supervises Department from At on
// (replacing whoever did before); the acceptance and completion alerts of
// referrals addressed to the department name them (001 §3.1: the receiving
// department answers for its time limit).
type DepartmentSupervisorAssigned struct {
	Department string    `json:"department"`
	Supervisor string    `json:"supervisor"`
	Reason     string    `json:"reason,omitempty"`
	At         time.Time `json:"at"`
	By         string    `json:"by"`
}

// EventType implements Event.
func (DepartmentSupervisorAssigned) EventType() string { return TypeDepartmentSupervisorAssigned }

// Department is the aggregate of one receiving organisation's assignments
// (its stream is DepartmentStream(name)). The zero value is not usable;
// start from NewDepartment. Not safe for concurrent use.
type Department struct {
	name       string
	version    uint64
	supervisor string
	since      time.Time
}

// NewDepartment returns the empty aggregate of the department name.
func NewDepartment(name string) *Department { return &Department{name: name} }

// Name returns the department's name.
func (d *Department) Name() string { return d.name }

// Version implements Aggregate.
func (d *Department) Version() uint64 { return d.version }

// Supervisor returns who supervises the department ("" when nobody was
// assigned) and since when.
func (d *Department) Supervisor() (string, time.Time) { return d.supervisor, d.since }

// Apply implements Aggregate.
func (d *Department) Apply(e Event) {
	d.version++
	if a, ok := e.(DepartmentSupervisorAssigned); ok {
		d.supervisor, d.since = a.Supervisor, a.At
	}
}

// AssignSupervisor records that supervisor supervises the department from
// meta.At on, with the rules of every supervisor assignment
// (checkSupervisorAssignment).
func (d *Department) AssignSupervisor(meta Meta, supervisor, reason string) ([]Event, error) {
	if err := checkSupervisorAssignment(meta, "department", d.name, supervisor, reason, d.supervisor, "the department's supervisor", "部门督导"); err != nil {
		return nil, err
	}
	return []Event{DepartmentSupervisorAssigned{Department: d.name, Supervisor: supervisor, Reason: reason, At: meta.At, By: meta.Actor}}, nil
}
