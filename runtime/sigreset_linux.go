package runtime

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction for rt_sigaction on
// Linux (handler, flags, restorer, mask): only the handler is read or set.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	sigDefault = 0 // SIG_DFL
	sigIgnore  = 1 // SIG_IGN
)

// ResetIgnoredSignals sets every signal this process ignores back to its
// default action. An ignored signal stays ignored across exec, so a
// container's process would inherit whatever berth's caller ignored: a
// shell's background job ignores SIGINT and SIGQUIT, GNU make ignores
// signals 32 and 33. A container starts with every signal at its default,
// as under Docker; the container's init calls this before it executes the
// container's process. Signals with a handler need nothing: exec resets
// them.
func ResetIgnoredSignals() {
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			continue
		}
		if old.handler != sigIgnore {
			continue
		}
		act := kernelSigaction{handler: sigDefault}
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	}
}
