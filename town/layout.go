package town

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Person is a worker of the town. Actor is the string recorded as the actor
// of events ("王芳(GW0012)"): the name people read plus a code that keeps it
// unique.
type Person struct {
	Name  string
	Code  string
	Role  string // a domain.Role* constant
	Actor string
}

// Grid is one grid (网格) of a community with its responsible worker. When
// Successor is set, the households of the grid are handed over to the
// successor at HandoverAt (a worker leaving or changing post).
type Grid struct {
	Name       string // e.g. "东丰村第2网格"
	Worker     *Person
	Successor  *Person
	HandoverAt time.Time
}

// Community (社区 or 村) with its grids, secretary (社区书记, the supervisor
// who dispatches problems) and its town.
type Community struct {
	Name      string
	Urban     bool // 社区 (buildings, units, rooms) rather than 村 (groups, house numbers)
	Town      *TownUnit
	Secretary *Person
	Grids     []*Grid
	Workers   []*Person
}

// TownUnit is a town (镇) grouping communities, with its street-office
// supervisors (街道督导) and the social workers of its social-work station.
type TownUnit struct {
	Name          string
	Supervisors   []*Person
	SocialWorkers []*Person
	Communities   []*Community
}

// Layout is the town's structure: who works where. It is derived from the
// Config alone, so the demo and tests can name supervisors without
// generating events.
type Layout struct {
	Towns       []*TownUnit
	Communities []*Community
}

// NewLayout builds the layout of cfg.
func NewLayout(cfg Config) (*Layout, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newLayout(&c), nil
}

func newLayout(c *Config) *Layout {
	r := rand.New(rand.NewPCG(c.Seed, 0x70776e6c61796f75))
	perm := r.Perm(len(placeFirst) * len(placeSecond))
	nComm := (c.Households + c.HouseholdsPerCommunity - 1) / c.HouseholdsPerCommunity
	nTown := (nComm + c.CommunitiesPerTown - 1) / c.CommunitiesPerTown
	codes := map[string]int{}
	person := func(prefix, role string) *Person {
		codes[prefix]++
		p := &Person{Name: personName(r, chance(r, 0.6)), Code: fmt.Sprintf("%s%04d", prefix, codes[prefix]), Role: role}
		p.Actor = p.Name + "(" + p.Code + ")"
		return p
	}
	l := &Layout{}
	for t := range nTown {
		name := townNames[t%len(townNames)]
		if t >= len(townNames) {
			name = placeName(perm, len(perm)-1-t) + "镇"
		}
		tu := &TownUnit{Name: name}
		for range 2 {
			tu.Supervisors = append(tu.Supervisors, person("SV", domain.RoleSupervisor))
		}
		for range 4 {
			tu.SocialWorkers = append(tu.SocialWorkers, person("SW", domain.RoleSocialWorker))
		}
		l.Towns = append(l.Towns, tu)
	}
	span := c.End.Sub(c.Start)
	for i := range nComm {
		tu := l.Towns[i/c.CommunitiesPerTown]
		urban := chance(r, 0.4)
		name := placeName(perm, i)
		if urban {
			name += "社区"
		} else {
			name += "村"
		}
		cm := &Community{Name: name, Urban: urban, Town: tu, Secretary: person("SJ", domain.RoleSupervisor)}
		for range 3 {
			cm.Workers = append(cm.Workers, person("GW", domain.RoleGridWorker))
		}
		for g := range c.GridsPerCommunity {
			gr := &Grid{Name: fmt.Sprintf("%s第%d网格", name, g+1), Worker: cm.Workers[g%len(cm.Workers)]}
			if chance(r, 0.15) {
				gr.Successor = person("GW", domain.RoleGridWorker)
				d := time.Duration(float64(span) * (0.3 + 0.4*r.Float64()))
				gr.HandoverAt = workTime(c, c.Start.Add(d), 10, 0)
			}
			cm.Grids = append(cm.Grids, gr)
		}
		tu.Communities = append(tu.Communities, cm)
		l.Communities = append(l.Communities, cm)
	}
	return l
}

// workTime returns hh:mm local time on the first working day whose hh:mm is
// not before t.
func workTime(c *Config, t time.Time, hh, mm int) time.Time {
	t = t.In(c.Location)
	d := time.Date(t.Year(), t.Month(), t.Day(), hh, mm, 0, 0, c.Location)
	if d.Before(t) {
		d = time.Date(t.Year(), t.Month(), t.Day()+1, hh, mm, 0, 0, c.Location)
	}
	for range 30 {
		ok, err := c.Calendar.IsWorkingDay(d)
		if err != nil || ok {
			return d
		}
		d = time.Date(d.Year(), d.Month(), d.Day()+1, hh, mm, 0, 0, c.Location)
	}
	return d
}
