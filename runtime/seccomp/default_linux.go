package seccomp

// The default profile has the effect of Docker's (moby/profiles/seccomp
// v0.2.3): calls not listed fail with EPERM; the ones a container needs
// a capability for (mount, unshare, setns, reboot, ptrace, bpf,
// perf_event_open, ...) are allowed only when it holds that capability
// after cap_add and cap_drop; clone may not create namespaces without
// CAP_SYS_ADMIN, clone3 answers ENOSYS so that C libraries fall back to
// clone; personality may only select the Linux personalities. It is
// written as data here, in the same form as a profile file in Docker's
// JSON format (profile_linux.go), so that one resolver turns either into
// libcontainer's filter for a given container.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	libseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Supported reports whether this berth was built with the seccomp tag,
// and so filters containers' system calls.
func Supported() bool { return libseccomp.Enabled }

// allowedCalls are the system calls the default profile allows every
// container, whatever its capabilities. Calls the running kernel or
// libseccomp does not know are skipped when the filter is loaded.
var allowedCalls = slices.Concat(
	// Files, directories and descriptors.
	strings.Fields(`access cachestat chdir chmod chown chown32 close close_range
		copy_file_range creat dup dup2 dup3 faccessat faccessat2 fadvise64
		fadvise64_64 fallocate fchdir fchmod fchmodat fchmodat2 fchown
		fchown32 fchownat fcntl fcntl64 fdatasync flock fstat fstat64
		fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futimesat
		getcwd getdents getdents64 ioctl lchown lchown32 link linkat _llseek
		lseek lstat lstat64 mkdir mkdirat mknod mknodat name_to_handle_at
		newfstatat open openat openat2 pread64 preadv preadv2 pwrite64
		pwritev pwritev2 read readahead readlink readlinkat readv rename
		renameat renameat2 rmdir sendfile sendfile64 splice stat stat64
		statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
		tee truncate truncate64 umask unlink unlinkat utime utimensat
		utimensat_time64 utimes vmsplice write writev`),
	// Extended attributes, and reading the mount table.
	strings.Fields(`fgetxattr flistxattr fremovexattr fsetxattr getxattr
		getxattrat lgetxattr listxattr listxattrat llistxattr lremovexattr
		lsetxattr removexattr removexattrat setxattr setxattrat
		listmount statmount`),
	// Waiting on descriptors: pipes, polling, events, watches.
	strings.Fields(`epoll_create epoll_create1 epoll_ctl epoll_ctl_old
		epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2
		fanotify_mark inotify_add_watch inotify_init inotify_init1
		inotify_rm_watch _newselect pipe pipe2 poll ppoll ppoll_time64
		pselect6 pselect6_time64 select signalfd signalfd4 timerfd_create
		timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64`),
	// Asynchronous I/O (not io_uring, which Docker leaves out too).
	strings.Fields(`io_cancel io_destroy io_getevents io_pgetevents
		io_pgetevents_time64 io_setup io_submit ioprio_get ioprio_set`),
	// Processes and threads, and what they may learn or restrict of themselves.
	strings.Fields(`capget capset execve execveat exit exit_group fork
		get_robust_list get_thread_area getcpu getpgid getpgrp getpid
		getppid getpriority getrandom getrlimit getrusage getsid gettid kill
		landlock_add_rule landlock_create_ruleset landlock_restrict_self
		pidfd_open pidfd_send_signal prctl prlimit64 process_mrelease
		restart_syscall riscv_hwprobe rseq seccomp set_robust_list
		set_thread_area set_tid_address setpgid setpriority setrlimit setsid
		sysinfo tgkill times tkill ugetrlimit uname uretprobe vfork wait4
		waitid waitpid`),
	// User and group identity.
	strings.Fields(`getegid getegid32 geteuid geteuid32 getgid getgid32
		getgroups getgroups32 getresgid getresgid32 getresuid getresuid32
		getuid getuid32 setfsgid setfsgid32 setfsuid setfsuid32 setgid
		setgid32 setgroups setgroups32 setregid setregid32 setresgid
		setresgid32 setresuid setresuid32 setreuid setreuid32 setuid
		setuid32`),
	// Scheduling.
	strings.Fields(`sched_get_priority_max sched_get_priority_min
		sched_getaffinity sched_getattr sched_getparam sched_getscheduler
		sched_rr_get_interval sched_rr_get_interval_time64
		sched_setaffinity sched_setattr sched_setparam sched_setscheduler
		sched_yield`),
	// Memory.
	strings.Fields(`brk madvise map_shadow_stack membarrier memfd_create
		memfd_secret mincore mlock mlock2 mlockall mmap mmap2 mprotect mremap
		mseal msync munlock munlockall munmap pkey_alloc pkey_free
		pkey_mprotect remap_file_pages`),
	// Signals and timers.
	strings.Fields(`alarm getitimer pause rt_sigaction rt_sigpending
		rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
		rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo setitimer
		sigaltstack sigprocmask sigreturn timer_create timer_delete
		timer_getoverrun timer_gettime timer_gettime64 timer_settime
		timer_settime64`),
	// Clocks (setting one needs CAP_SYS_TIME, below; adjtimex and
	// clock_adjtime only read without it).
	strings.Fields(`adjtimex clock_adjtime clock_adjtime64 clock_getres
		clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
		clock_nanosleep_time64 gettimeofday nanosleep time`),
	// Futexes.
	strings.Fields(`futex futex_requeue futex_time64 futex_wait futex_waitv
		futex_wake`),
	// Sockets (socket itself has argument rules, below).
	strings.Fields(`accept accept4 bind connect getpeername getsockname
		getsockopt listen recv recvfrom recvmmsg recvmmsg_time64 recvmsg
		send sendmmsg sendmsg sendto setsockopt shutdown socketcall
		socketpair`),
	// System V and POSIX IPC, private to the container's IPC namespace.
	strings.Fields(`ipc mq_getsetattr mq_notify mq_open mq_timedreceive
		mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink
		msgctl msgget msgrcv msgsnd semctl semget semop semtimedop
		semtimedop_time64 shmat shmctl shmdt shmget`),
)

// byCapability are the system calls the default profile allows
// only to a container that holds the capability the kernel checks for
// them.
var byCapability = []struct {
	capability string
	names      []string
}{
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
	{"CAP_SYS_ADMIN", strings.Fields(`bpf clone clone3 fanotify_init fsconfig
		fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
		lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount
		open_tree perf_event_open quotactl quotactl_fd setdomainname
		sethostname setns syslog umount umount2 unshare`)},
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_CHROOT", []string{"chroot"}},
	{"CAP_SYS_MODULE", []string{"delete_module", "init_module", "finit_module"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_PTRACE", []string{"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
	{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}},
	{"CAP_SYS_TIME", []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}},
	{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}},
	{"CAP_SYS_NICE", []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_BPF", []string{"bpf"}},
	{"CAP_PERFMON", []string{"perf_event_open"}},
}

// byArch are the system calls the default profile allows only on
// some architectures (as libseccomp names them).
var byArch = []struct {
	arches []string
	names  []string
}{
	{[]string{"amd64", "x32"}, []string{"arch_prctl"}},
	{[]string{"amd64", "x32", "x86"}, []string{"modify_ldt"}},
	{[]string{"arm", "arm64"}, []string{"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"}},
	{[]string{"ppc64le"}, []string{"sync_file_range2", "swapcontext"}},
	{[]string{"s390", "s390x"}, []string{"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}},
	{[]string{"riscv64"}, []string{"riscv_flush_icache"}},
}

// subArches are, for each architecture, the others whose system
// calls its kernel also runs (32-bit x86 and x32 on x86-64, 32-bit ARM on
// arm64, ...): the filter covers them too, so that they cannot be used
// to step around it.
var subArches = map[specs.Arch][]specs.Arch{
	specs.ArchX86_64:      {specs.ArchX86, specs.ArchX32},
	specs.ArchAARCH64:     {specs.ArchARM},
	specs.ArchMIPS64:      {specs.ArchMIPS, specs.ArchMIPS64N32},
	specs.ArchMIPS64N32:   {specs.ArchMIPS, specs.ArchMIPS64},
	specs.ArchMIPSEL64:    {specs.ArchMIPSEL, specs.ArchMIPSEL64N32},
	specs.ArchMIPSEL64N32: {specs.ArchMIPSEL, specs.ArchMIPSEL64},
	specs.ArchS390X:       {specs.ArchS390},
	specs.ArchRISCV64:     nil,
	specs.ArchLOONGARCH64: nil,
}

// cloneNamespaceFlags are the clone flags that create namespaces.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// defaultProfile is the profile of every container that is neither
// privileged nor given a profile of its own.
func defaultProfile() *profile {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	p := &profile{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm}
	for arch, subs := range subArches {
		p.ArchMap = append(p.ArchMap, archMap{Arch: arch, SubArches: subs})
	}
	slices.SortFunc(p.ArchMap, func(a, b archMap) int { return strings.Compare(string(a.Arch), string(b.Arch)) })

	allow := func(names []string, args []specs.LinuxSeccompArg, includes, excludes *condition) {
		p.Syscalls = append(p.Syscalls, rule{Names: names, Action: specs.ActAllow, Args: args, Includes: includes, Excludes: excludes})
	}
	argIs := func(index uint, op specs.LinuxSeccompOperator, value uint64) []specs.LinuxSeccompArg {
		return []specs.LinuxSeccompArg{{Index: index, Op: op, Value: value}}
	}

	allow(allowedCalls, nil, nil, nil)
	// Before Linux 4.8 seccomp could be bypassed with ptrace: there,
	// only CAP_SYS_PTRACE (below) allows it.
	allow([]string{"process_vm_readv", "process_vm_writev", "ptrace"}, nil, &condition{MinKernel: "4.8"}, nil)
	// Every socket family but AF_ALG (the kernel's crypto API) and
	// AF_VSOCK (host-guest sockets), which sit two apart.
	allow([]string{"socket"}, argIs(0, specs.OpLessThan, unix.AF_ALG), nil, nil)
	allow([]string{"socket"}, argIs(0, specs.OpEqualTo, unix.AF_ALG+1), nil, nil)
	allow([]string{"socket"}, argIs(0, specs.OpGreaterThan, unix.AF_VSOCK), nil, nil)
	// personality: Linux, Linux32, their UNAME26 forms, and the query
	// (0xffffffff); not ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC and the like.
	for _, persona := range []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff} {
		allow([]string{"personality"}, argIs(0, specs.OpEqualTo, persona), nil, nil)
	}
	for _, r := range byArch {
		allow(r.names, nil, &condition{Arches: r.arches}, nil)
	}
	for _, r := range byCapability {
		allow(r.names, nil, &condition{Caps: []string{r.capability}}, nil)
	}
	// Without CAP_SYS_ADMIN, clone may start processes and threads but
	// not make namespaces: the flags are the first argument, the second
	// on s390.
	noNamespaces := func(index uint) []specs.LinuxSeccompArg {
		return []specs.LinuxSeccompArg{{Index: index, Op: specs.OpMaskedEqual, Value: cloneNamespaceFlags, ValueTwo: 0}}
	}
	allow([]string{"clone"}, noNamespaces(0), nil, &condition{Caps: []string{"CAP_SYS_ADMIN"}, Arches: []string{"s390", "s390x"}})
	allow([]string{"clone"}, noNamespaces(1), &condition{Arches: []string{"s390", "s390x"}}, &condition{Caps: []string{"CAP_SYS_ADMIN"}})
	// clone3 passes its flags in memory, out of a filter's reach: it
	// answers ENOSYS, and C libraries fall back to clone.
	p.Syscalls = append(p.Syscalls, rule{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys,
		Excludes: &condition{Caps: []string{"CAP_SYS_ADMIN"}}})
	return p
}

// Config is the system call filter of a container whose capability
// bounding set is caps: data, a profile in Docker's JSON format, or the
// default profile when data is empty, resolved for caps, this architecture
// and this kernel. It is nil when berth was built without the seccomp tag
// and no profile is given.
func Config(data []byte, caps []string) (*configs.Seccomp, error) {
	p := defaultProfile()
	if len(data) > 0 {
		if !libseccomp.Enabled {
			return nil, fmt.Errorf("%w: this berth was built without seccomp support (the seccomp build tag)", ErrInvalid)
		}
		var err error
		if p, err = loadProfile(data); err != nil {
			return nil, err
		}
	} else if !libseccomp.Enabled {
		return nil, nil
	}
	kernel, err := kernelRelease()
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.SetupSeccomp(p.resolve(caps, nativeArch(), kernel))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return cfg, nil
}
