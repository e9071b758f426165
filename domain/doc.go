// Package domain holds the rules of Doorstep: households ("one household,
// one file") with their visits, the problem ledger, referrals to
// departments, the policy that sets deadlines and visit frequency, and the
// derivation of deadlines from events.
//
// The package is pure and deterministic: it imports nothing else of Doorstep,
// does no I/O, and never reads a clock or makes ids. Time, ids, problem
// numbers, the policy in force and the working-day calendar come in as values.
//
// Aggregates follow one pattern. A command method (Household.Register,
// Problem.NoteProgress, Referral.Accept, …) checks the rules against the
// current state and returns the events to append, or a *Error. It never
// changes the receiver. Apply folds one event into the state; it is a pure
// switch that never fails, ignores event types it does not know, and
// increments Version by one. The command layer loads an aggregate by folding
// its stream (Fold), runs a command, and appends the returned events with the
// aggregate's Version as the expected version.
//
// Streams: one per household ("household-<id>", carrying its visits), one per
// problem ("problem-<id>"), one per referral ("referral-<id>"); see the
// *Stream functions.
package domain
