package project

import (
	"strings"
	"testing"
)

// A container's default host name (its short ID) is never digits alone,
// which the C library refuses to look up. Drawn at random, 1 ID in 280
// would be.
func TestContainerIDHostNameIsNotNumeric(t *testing.T) {
	for range 20000 {
		id := newContainerID()
		if len(id) != 64 {
			t.Fatalf("ID %q: %d characters, want 64", id, len(id))
		}
		if short := shortContainerID(id); strings.Trim(short, "0123456789") == "" {
			t.Fatalf("ID %s: host name %s is digits alone", id, short)
		}
	}
}
