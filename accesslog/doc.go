// Package accesslog is the record of sensitive reads (PIPL): every read of
// a household's identity numbers, phones, income, health or disability is
// recorded, durably, before the values are shown, never with the values
// (decisions 0051 and 0041). The embedded store keeps the record in a JSON
// Lines file in the data directory (File); on PostgreSQL it is the table
// <schema>.sensitive_reads shared by every node (Postgres). Both make
// concurrent records durable in groups, and both list a household's reads,
// newest first, for auditors.
//
// Every call that writes or reads runs under the caller's context.
package accesslog
