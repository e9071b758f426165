// Package http is Doorstep's HTTP API: a gorilla/mux router; bearer-token
// authentication, roles and scopes, decided by package identity; sensitive
// reads recorded through package accesslog before they are shown; RFC 9457
// problem+json errors in English and Simplified Chinese (every refusal a
// *domain.Error, whose kind one table maps to a status); idempotent and
// conditional commands; read-model queries with read-your-writes waits; a
// server-sent-events feed of the whole log for integrators; Prometheus
// metrics on the server's own registry; and the OpenAPI 3.1 document that
// describes all of it.
//
// The package shadows the standard library's name: it imports the standard
// one as nethttp, and callers import this one as dhttp.
//
// Nothing here reads flags or environment variables: cmd/doorstep builds a
// Config and the dependencies and calls New. The dependencies are the small
// interfaces this package declares for what it consumes (CommandService,
// made of HouseholdCommands, ProblemCommands, ReferralCommands and
// CalendarCommands; the readers in ReadModels); the command layer and the
// projections provide them.
//
// routes.go assembles the one route table from a file per resource
// (households.go, visits.go, household_reads.go, problems.go,
// referrals.go, alerts.go, measures.go, calendar.go), each with its request
// and response types, named handlers and a short route function.
// command.go holds the command protocol (idempotency, If-Match, ETag) that
// every command route shares, query.go what every read shares, and
// authorize.go the per-subject scope checks.
package http
