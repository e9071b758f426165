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
// Config and the dependencies and calls New.
package http
