package postgres

import "slices"

// StatusQueries are the queries pg_status runs, for other packages that
// run them inside a script of their own (steps/check) and read the
// output with ParseStatus.
func StatusQueries() []string { return slices.Clone(statusSQL) }
