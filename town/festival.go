package town

import (
	"math/rand/v2"
	"time"

	"github.com/doorstep/doorstep/domain"
)

// Festival visits (节日慰问, 004 §4.2 重要节日必访; 001 §2.4.2 春节、中秋; decision
// 0140): a completed home visit to a key or special household inside a
// festival's window is made for the festival and hands over relief by the
// household's category (000 §1.2: class A 特困 cash and goods, class B 低保
// festival gifts, class C temporary relief; 000 §2.1 慰问金或物资),
// acknowledged by the recipient's signature. Nothing here draws from the
// household's random source, so the rest of the town is unchanged by it.

// FestivalWindow is a festival campaign's window: a festival visit counts
// from Starts to Due (the festival's eve or day, end of day).
type FestivalWindow struct {
	Festival    domain.Festival
	Starts, Due time.Time
}

// ID is the campaign's id (domain.FestivalCampaignID).
func (w FestivalWindow) ID() string { return domain.FestivalCampaignID(w.Due.Year(), w.Festival) }

// festivalDays are the Spring Festival's eve (除夕) and the Mid-Autumn
// Festival of the years the shipped calendars cover and the next.
var festivalDays = []struct {
	f          domain.Festival
	y, m, d    int
	windowDays int
}{
	{domain.FestivalSpring, 2025, 1, 28, 14}, {domain.FestivalMidAutumn, 2025, 10, 6, 14},
	{domain.FestivalSpring, 2026, 2, 16, 14}, {domain.FestivalMidAutumn, 2026, 9, 25, 14},
	{domain.FestivalSpring, 2027, 2, 5, 14}, {domain.FestivalMidAutumn, 2027, 9, 15, 14},
}

// FestivalWindows returns the festival windows that end inside [start, end)
// in loc, in time order.
func FestivalWindows(start, end time.Time, loc *time.Location) []FestivalWindow {
	var out []FestivalWindow
	for _, f := range festivalDays {
		day := time.Date(f.y, time.Month(f.m), f.d, 0, 0, 0, 0, loc)
		w := FestivalWindow{Festival: f.f, Starts: day.AddDate(0, 0, -f.windowDays), Due: day.AddDate(0, 0, 1).Add(-time.Second)}
		if !w.Due.Before(start) && w.Due.Before(end) {
			out = append(out, w)
		}
	}
	return out
}

// festivalWindow returns the window occurred falls in, if any.
func (s *sim) festivalWindow(occurred time.Time) (FestivalWindow, bool) {
	for _, w := range s.festivals {
		if !occurred.Before(w.Starts) && !occurred.After(w.Due) {
			return w, true
		}
	}
	return FestivalWindow{}, false
}

// festivalRelief is what a household of category cat is handed on a
// festival visit, received by member and acknowledged by signature.
func festivalRelief(f domain.Festival, cat domain.AssistanceCategory, member, visitID string) []domain.Relief {
	gift := []domain.ReliefItem{{Name: "大米", Quantity: 1, Unit: "袋"}, {Name: "食用油", Quantity: 1, Unit: "桶"}}
	if f == domain.FestivalMidAutumn {
		gift = []domain.ReliefItem{{Name: "月饼", Quantity: 1, Unit: "盒"}, {Name: "食用油", Quantity: 1, Unit: "桶"}}
	}
	ack := func(r domain.Relief, i int) domain.Relief {
		r.Recipient, r.AckMethod, r.AckRef = member, domain.AckSignature, "ack/"+visitID+"-"+string(rune('1'+i))
		return r
	}
	switch cat {
	case domain.CategoryTeKun: // class A: cash and goods
		return []domain.Relief{ack(domain.Relief{Kind: domain.ReliefCash, AmountFen: 500_00}, 0), ack(domain.Relief{Kind: domain.ReliefGoods, Items: gift}, 1)}
	case domain.CategoryTemporary: // class C: one-off temporary relief
		return []domain.Relief{ack(domain.Relief{Kind: domain.ReliefTemporary, AmountFen: 300_00}, 0)}
	}
	return []domain.Relief{ack(domain.Relief{Kind: domain.ReliefFestivalGift, Items: gift}, 0)} // class B and the others
}

// recipient is the first current member of the household ("" if none).
func (h *house) recipient() string {
	if ms := h.agg.Members(); len(ms) > 0 {
		return ms[0].ID
	}
	return ""
}

// planFestivals schedules, for each campaign opening after registration,
// the household's festival visit deadline a minute after its campaign
// opens (oversight.go), if it is then of a class the campaign reaches.
// Its command and event ids come from a source of the household's own,
// apart from the one its history draws from.
func (h *house) planFestivals(reg time.Time) {
	s := h.s
	if s.pol.FestivalVisits.IsZero() {
		return
	}
	for _, w := range s.festivals {
		open := w.Starts.Add(-campaignLead).Add(9 * hour)
		if !open.After(reg) {
			continue
		}
		h.schedule(open.Add(minute), func(at time.Time) (*Batch, error) { return h.festivalDue(at, w) })
	}
}

func (h *house) festivalDue(at time.Time, w FestivalWindow) (*Batch, error) {
	if h.agg.Archived() || !h.s.pol.FestivalVisits.Targets(h.agg.Class()) {
		return nil, nil
	}
	if h.frng == nil {
		h.frng = rand.New(rand.NewPCG(h.s.c.Seed^0x66657374697661, uint64(h.idx)+1))
	}
	sec := h.comm.Secretary
	if sec == nil {
		sec = h.worker
	}
	m := domain.Meta{Actor: sec.Actor, Role: domain.RoleSupervisor, At: at, CommandID: newUUID(h.frng, at).String()}
	o := domain.FestivalCampaignOpened{Community: h.agg.Community(), Campaign: w.ID(), Festival: w.Festival, Starts: w.Starts, Due: w.Due}
	rc := h.batch(h.stream(), h.agg, "")
	rc.ids = h.frng
	evs, err := h.agg.ScheduleFestivalVisit(m, o)
	if err := rc.add("schedule festival visit", m, evs, err); err != nil {
		return nil, err
	}
	h.s.stats.FestivalDue += len(evs)
	return rc.b, nil
}
