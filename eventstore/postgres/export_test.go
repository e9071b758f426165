package postgres

// WithBeforeCommit returns cfg with a hook that every writer runs after a
// group's rows are inserted and before its COMMIT is sent, while the
// transaction holds its id. Tests use it to hold transactions open.
func WithBeforeCommit(cfg Config, f func()) Config {
	cfg.beforeCommit = f
	return cfg
}
