package domain

import "time"

// CalendarStream is the stream of the working-day calendar's published
// years. Every node derives the calendar in force from the shipped years
// and this stream, so all nodes agree and an auditor can tell which
// calendar was in force at any position of the log.
const CalendarStream = "calendar-cn"

// TypeCalendarYearPublished is the event type of CalendarYearPublished.
const TypeCalendarYearPublished = "calendar.year_published"

// CalendarNotice identifies the official notice a year comes from.
type CalendarNotice struct {
	Title  string `json:"title,omitempty"`
	Number string `json:"number,omitempty"`
	Date   string `json:"date,omitempty"` // YYYY-MM-DD
}

// CalendarYearPublished: the holidays and make-up working days of one year,
// as published in an official notice. It replaces the shipped data of that
// year and any earlier publication of it (a corrected notice). Off and Work
// are dates "YYYY-MM-DD" or ranges "YYYY-MM-DD/YYYY-MM-DD"; Hash is the
// content hash of the days (package domain/calendar, Year.Hash), and
// Version the version of the whole calendar once this year is in force.
type CalendarYearPublished struct {
	Year        int            `json:"year"`
	Off         []string       `json:"off"`
	Work        []string       `json:"work"`
	Notice      CalendarNotice `json:"notice"`
	Hash        string         `json:"hash"`
	Version     string         `json:"calendar_version"`
	Replaces    string         `json:"replaces,omitempty"` // the hash of the year in force before, if any
	PublishedBy string         `json:"published_by"`
	At          time.Time      `json:"at"`
}

// EventType implements Event.
func (CalendarYearPublished) EventType() string { return TypeCalendarYearPublished }
