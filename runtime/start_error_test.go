package runtime

import (
	"errors"
	"strings"
	"testing"
)

// Only a command that could not be executed gets the hint at PATH: a
// namespace path a reboot took says "no such file or directory" too.
func TestStartErrorHintsOnlyAtMissingCommands(t *testing.T) {
	for msg, hint := range map[string]bool{
		`unable to start container process: exec: "nope": executable file not found in $PATH`:                                      true,
		`unable to start container process: exec: "/bin/nope": stat /bin/nope: no such file or directory`:                          true,
		`unable to start container process: exec /app/run.sh: no such file or directory`:                                           true,
		`unable to create new parent process: namespace path: lstat /run/berth/netns/0123abcd: no such file or directory`:          false,
		`unable to start container process: error during container init: error mounting "/x" to rootfs: no such file or directory`: false,
	} {
		got := strings.Contains(startError(errors.New(msg)).Error(), "PATH?")
		if got != hint {
			t.Errorf("%s: hint %v, want %v", msg, got, hint)
		}
	}
}
