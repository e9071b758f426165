// Package clock is the one source of "now" for Doorstep's domain: when a
// command happened, when an event was recorded, the deadline watcher's
// instant, the demo's today, token and key creation times, the calendar
// coverage metric, replay's default instant. Code that measures elapsed
// time (latencies, timeouts, rates) uses time.Now and time.Since directly.
//
// In a normal build Now is exactly time.Now.
//
// Built with the tag doorstep_testclock (go test -tags doorstep_testclock,
// go build -tags doorstep_testclock), Now reads the environment variable
// DOORSTEP_TEST_CLOCK once, at start: when it holds an RFC 3339 instant,
// Now returns that instant plus the time elapsed since the process started,
// so the clock still advances; when it is empty or unset, Now is time.Now;
// any other value stops the process at start with a message naming the
// variable. The tests use it to run the clock-reading packages, and the
// binaries the end-to-end tests start, on chosen dates (./scripts/test
// runs them on 2026-12-30 and 2027-03-01 as well as today).
//
// A binary built without the tag, as every release and `go build
// ./cmd/doorstep` is, has no code that reads the variable: setting it in
// production changes nothing. Decision 0061 gives the reasons.
package clock

// EnvVar names the variable a doorstep_testclock build reads.
const EnvVar = "DOORSTEP_TEST_CLOCK"

// Tag is the build tag that enables EnvVar.
const Tag = "doorstep_testclock"
