// Package projections builds Doorstep's read models from the global event
// log: a checkpointed engine that applies events in batches and commits the
// read-model changes together with each projection's checkpoint in one SQL
// transaction.
//
// The engine works against database/sql with a small Dialect seam
// (placeholders, upserts), so the same read models run on the embedded
// SQLite database (see OpenSQLite: a file of its own beside the events
// file, decision 0030) and on PostgreSQL through pgx's database/sql driver.
//
// Read models live in subpackages: profile (one household, one file),
// alerts (open deadline breaches), audit (per-household and per-problem
// history, read from the log), measures (rates per community, grid, worker
// and month). The deadline watcher, which appends deadline alert events to
// the log, is in subpackage deadline.
//
// Contract for a Projection: Apply must be deterministic — the same events
// on the same tables give the same rows, however the log is cut into
// batches — and must write only through the *Tx it is given, so that a
// crash rolls back its changes together with the checkpoint. State kept in
// memory between calls is allowed only through the optional interfaces:
// Accumulator (a transaction's pending changes, written in Flush or dropped
// in Discard) and Cacher (committed rows, told of every commit and
// rollback). A projection value belongs to one engine, and one engine at a
// time may write a read-model database.
//
// Batching: live processing (Run, CatchUp) commits every page of
// Config.BatchSize events; Rebuild applies pages in groups of
// Config.RebuildGroup events per transaction, so a row touched by many
// events is written once.
package projections
