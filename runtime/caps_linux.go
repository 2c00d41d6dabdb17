package runtime

// KnownCapability reports whether name (with or without its CAP_ prefix,
// any case, or ALL) is a capability berth can add or drop, so that a
// compose file naming an unknown one is refused before anything starts.
func KnownCapability(name string) bool {
	c := normCap(name)
	if c == "ALL" {
		return true
	}
	for _, n := range capNames {
		if n == c {
			return true
		}
	}
	return false
}
