// Package account keeps the people who sign in to the console: a user has a
// login name, a password hashed with Argon2id, and the same principal (role
// and scope) as a bearer token (package identity). The users live in a
// SQLite file of one node's data directory (users.db) or in a PostgreSQL
// table shared by every node, both created by internal/migrate (owner
// "account").
//
// A sign-in checks the password, counts consecutive failures and locks the
// account for LockFor after MaxFailures of them; every sign-in and every
// failure is recorded (login, instant, outcome; never the password). The
// HTTP layer turns a successful sign-in into a session: a short-lived
// identity token carried in an HttpOnly cookie (decision 0103).
package account
