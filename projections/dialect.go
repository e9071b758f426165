package projections

import (
	"slices"
	"strconv"
	"strings"
)

// Dialect hides what differs between the SQL databases that host read
// models. Queries in this package and its subpackages are written with '?'
// placeholders and portable SQL (INSERT … ON CONFLICT … DO UPDATE works on
// SQLite ≥ 3.24 and PostgreSQL ≥ 9.5); Rebind adapts them.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Rebind rewrites '?' placeholders into the database's form. Question
	// marks inside single-quoted literals are left alone.
	Rebind(query string) string
}

// SQLite is the dialect of modernc.org/sqlite ('?' placeholders).
var SQLite Dialect = sqliteDialect{}

// Postgres is the dialect of PostgreSQL through pgx's stdlib driver ($1, $2, …).
var Postgres Dialect = postgresDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string               { return "sqlite" }
func (sqliteDialect) Rebind(query string) string { return query }

type postgresDialect struct{}

func (postgresDialect) Name() string { return "postgres" }

func (postgresDialect) Rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func sortStrings(s []string) { slices.Sort(s) }

// Bool is how read models store a flag: 1 or 0 in an INTEGER column, the
// same on SQLite and PostgreSQL. (Scanning it into a Go bool works on both.)
func Bool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WithoutRowID ends the DDL of a table with a primary key:
// `CREATE TABLE … (…)` + WithoutRowID. The engine turns it into
// " WITHOUT ROWID" on SQLite (the primary key is the table's only B-tree:
// one write per row instead of two) and removes it on PostgreSQL.
const WithoutRowID = "/*without_rowid*/"

// expandDDL adapts portable DDL to the dialect.
func expandDDL(d Dialect, ddl string) string {
	if d.Name() == "sqlite" {
		return strings.ReplaceAll(ddl, WithoutRowID, " WITHOUT ROWID")
	}
	return strings.ReplaceAll(ddl, WithoutRowID, "")
}
