package command

import (
	"context"

	"github.com/doorstep/doorstep/domain"
)

// AssignDepartmentSupervisor records that supervisor supervises the
// receiving organisation department from now on
// (domain.DepartmentSupervisorAssigned on the department's stream): the
// deadline watcher names them on the alerts of referrals addressed to the
// department. The rules are those of AssignCommunitySupervisor.
func (s *Service) AssignDepartmentSupervisor(ctx context.Context, c Cmd, department, supervisor, reason string) (Result, error) {
	if err := domain.CheckID("department", department); err != nil {
		return Result{}, err
	}
	input := []string{department, supervisor, reason}
	res, _, err := execute(ctx, s, c, target[*domain.Department]{
		kind: "department.assign_supervisor", stream: domain.DepartmentStream(department), input: input,
		newAgg: func() *domain.Department { return domain.NewDepartment(department) },
		decide: func(a *domain.Department, m domain.Meta) ([]domain.Event, error) {
			return a.AssignSupervisor(m, supervisor, reason)
		},
	})
	res.ID = department
	return res, err
}

// DepartmentSupervisor returns who supervises department as recorded in
// the log ("" when nobody was assigned), reading only what the stream
// cache lacks.
func (s *Service) DepartmentSupervisor(ctx context.Context, department string) (string, error) {
	if !domain.ValidID(department) {
		return "", nil // no such stream can exist
	}
	a := domain.NewDepartment(department)
	if _, err := s.load(ctx, domain.DepartmentStream(department), a, domain.AsOf{}, ""); err != nil {
		return "", err
	}
	name, _ := a.Supervisor()
	return name, nil
}
