// Package identity says who a caller is and what it may touch: the roles a
// bearer token carries, the principal (a person or a system, its role and
// its scope), the scope rules (which grids, communities or department a
// principal covers) and the token set, kept as SHA-256 hashes in a file of
// one node's data directory or in a PostgreSQL table shared by every node
// (decisions 0051 and 0041). A token may expire and can be revoked; on
// PostgreSQL a change reaches every node's cache by LISTEN/NOTIFY (decision
// 0068).
//
// It knows nothing of HTTP: package http reads the bearer header, calls
// Tokens.Authenticate and maps this package's errors to statuses. Every
// refusal is a *domain.Error whose kind is one of this package's kinds
// (ErrInvalidPrincipal) or a sentinel (ErrUnknownToken).
package identity
