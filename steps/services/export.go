package services

// Discovery is the script that finds the host's service for role (the
// inventory's own name, else the table's candidates) and prints its state
// as key=value lines for ParseStatus. It ends with exit: run it in a
// subshell when it is part of a larger script (steps/check does).
func Discovery(role, init string, own map[string]string) string {
	return discovery(init, candidates(role, init, own))
}
