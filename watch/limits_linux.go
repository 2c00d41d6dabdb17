package watch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LimitError is the kernel refusing an inotify watch or instance: it names
// the sysctl that sets the limit, its value now, and how to raise it.
type LimitError struct {
	Sysctl string // fs.inotify.max_user_watches or max_user_instances
	Value  int    // its value now (0 when it could not be read)
	// NamespaceValue is the lower limit of the user namespace berth runs
	// in (user.max_inotify_watches or _instances), 0 when not lower.
	NamespaceValue int
	err            error // ErrWatchLimit or ErrInstanceLimit
}

func (e *LimitError) Error() string {
	suggest := max(2*e.Value, 524288)
	if e.Sysctl == "fs.inotify.max_user_instances" {
		suggest = max(2*e.Value, 1024)
	}
	ns := ""
	if e.NamespaceValue > 0 {
		ns = fmt.Sprintf(" (this user namespace allows only %d: %s)", e.NamespaceValue, nsSysctl(e.Sysctl))
	}
	return fmt.Sprintf("%v: %s is %d%s; raise it with `sysctl -w %s=%d` (add the setting to a file in /etc/sysctl.d/ to keep it across reboots), or ignore large directories such as node_modules in the watch rules",
		e.err, e.Sysctl, e.Value, ns, e.Sysctl, suggest)
}

// Unwrap makes errors.Is find ErrWatchLimit or ErrInstanceLimit.
func (e *LimitError) Unwrap() error { return e.err }

// limitError turns the kernel's "no more" (ENOSPC for watches, EMFILE for
// instances) into a LimitError; other errors pass through.
func limitError(err error, sysctl string, sentinel error) error {
	if !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EMFILE) {
		return fmt.Errorf("inotify: %w", err)
	}
	le := &LimitError{Sysctl: sysctl, Value: readSysctl(sysctl), err: sentinel}
	if n := readSysctl(nsSysctl(sysctl)); n > 0 && n < le.Value {
		le.NamespaceValue = n
	}
	return le
}

// nsSysctl is the per-user-namespace counterpart of an inotify sysctl.
func nsSysctl(name string) string {
	return "user.max_inotify_" + strings.TrimPrefix(name, "fs.inotify.max_user_")
}

// readSysctl reads an integer sysctl, 0 when it cannot.
func readSysctl(name string) int {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
