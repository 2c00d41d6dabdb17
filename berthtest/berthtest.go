package berthtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	// The test binary is also its containers' init and monitor: the hook
	// runs in those roles before the tests and never returns there.
	_ "github.com/berthdev/berth/internal/reexec"
	"github.com/berthdev/berth/project"
)

// ErrNotRoot means the test does not run as root, which berth needs.
var ErrNotRoot = errors.New("berthtest needs root: berth creates namespaces, mounts, network interfaces and firewall rules; run the test as root (go test -exec sudo)")

// Options describe a stack.
type Options struct {
	// Files are the compose files; when none, the first of compose.yaml,
	// compose.yml, docker-compose.yaml, docker-compose.yml found walking
	// up from the working directory (the package's, under go test).
	Files []string
	// ProjectName is the name of the project the stack is made from;
	// the compose file's or its directory's when empty.
	ProjectName string
	// ProjectDir is the project's working directory; the first file's
	// directory when empty.
	ProjectDir string
	Profiles   []string
	EnvFiles   []string
	// Env adds KEY=VALUE variables to the process environment for the
	// compose file's interpolation.
	Env []string
	// Services are the services to start, with their dependencies; all
	// when empty.
	Services []string
	// SeedFrom names an existing project whose named volumes the stack's
	// start from, as copy-on-write layers that never change them.
	SeedFrom string
	// Pull is the pull policy for every service: "always", "missing" or
	// "never"; empty keeps each service's own (missing by default).
	Pull string
	// Root and State are berth's directories; empty means $BERTH_ROOT and
	// $BERTH_STATE, else /var/lib/berth and /run/berth.
	Root, State string
	// Timeout bounds starting the stack, pulls included; 2 minutes when 0.
	Timeout time.Duration
	// LogsOnFailure is how many last lines of each service's log Up
	// writes to the test's log when the test failed: 30 when 0, none
	// when negative.
	LogsOnFailure int
}

// Stack is a running throwaway stack.
type Stack struct {
	// Name is the stack's project name, <project>-test-<id>, which
	// `berth -p NAME ps` (or logs, port, exec) shows while it runs.
	Name string

	tb    testing.TB // nil for a stack from Start
	e     *project.Engine
	tw    *project.Throwaway
	close sync.Once
	err   error
}

// Up starts a stack for the test and registers its removal with
// t.Cleanup. It fails the test when the stack cannot start, having removed
// whatever of it started. Safe with t.Parallel.
func Up(t testing.TB, opts Options) *Stack {
	t.Helper()
	s, err := start(t.Context(), opts, func(msg string) { t.Logf("berthtest: warning: %s", msg) })
	if err != nil {
		t.Fatalf("berthtest: %v", err)
	}
	s.tb = t
	t.Logf("berthtest: stack %s is up", s.Name)
	t.Cleanup(func() {
		if t.Failed() && opts.LogsOnFailure >= 0 {
			s.logFailure(opts.LogsOnFailure)
		}
		if err := s.Close(); err != nil {
			t.Errorf("berthtest: %v", err)
		}
	})
	return s
}

// Start starts a stack for callers without a test at hand: a TestMain that
// shares one stack between a package's tests, say. The caller removes it
// with Close.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	return start(ctx, opts, func(msg string) { fmt.Fprintln(os.Stderr, "berthtest: warning:", msg) })
}

func start(ctx context.Context, opts Options, warn func(string)) (*Stack, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	p, err := project.Load(ctx, project.LoadOptions{
		Files: opts.Files, ProjectName: opts.ProjectName, ProjectDir: opts.ProjectDir,
		EnvFiles: opts.EnvFiles, Profiles: opts.Profiles, Services: opts.Services,
		WorkingDir: wd, Environ: append(os.Environ(), opts.Env...),
	})
	if err != nil {
		return nil, err
	}
	e, err := openEngine(opts.Root, opts.State)
	if err != nil {
		return nil, err
	}
	// Stacks of test binaries that were killed go first.
	if _, err := e.PruneThrowaways(ctx, false, nil); err != nil {
		return nil, err
	}
	tw, err := e.NewThrowaway(ctx, p, project.ThrowawayOptions{SeedFrom: opts.SeedFrom, Warn: warn})
	if tw == nil {
		return nil, err
	}
	s := &Stack{Name: tw.Project.Name, e: e, tw: tw}
	track(s)
	if err == nil {
		err = e.Up(ctx, tw.Project, project.UpOptions{Services: opts.Services, Pull: opts.Pull, Wait: true})
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("starting the stack took longer than %s: %w", opts.Timeout, err)
		}
		return nil, errors.Join(fmt.Errorf("stack %s: %w", s.Name, err), s.Close())
	}
	return s, nil
}

// openEngine opens berth's root and state as the berth command does.
func openEngine(root, state string) (*project.Engine, error) {
	if root == "" {
		root = envOr("BERTH_ROOT", "/var/lib/berth")
	}
	if state == "" {
		state = envOr("BERTH_STATE", "/run/berth")
	}
	for _, d := range []string{root, state} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// NewEngine reads the registry configuration too, as the berth
	// command does.
	return project.NewEngine(root, state)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Close removes everything of the stack: containers at once, networks and
// volumes. Calling it again returns the first call's result.
func (s *Stack) Close() error {
	s.close.Do(func() {
		if err := s.tw.Remove(context.Background(), nil); err != nil {
			s.err = fmt.Errorf("removing stack %s: %w", s.Name, err)
		}
		untrack(s)
	})
	return s.err
}

// fail reports an error of a method that returns none: it fails the test
// of a stack from Up, and panics for a stack from Start.
func (s *Stack) fail(err error) {
	if s.tb != nil {
		s.tb.Helper()
		s.tb.Fatalf("berthtest: %v", err)
	}
	panic("berthtest: " + err.Error())
}

// Addr is the host:port at which the test process reaches port (tcp) of
// a service: the free host port it is published on when the compose file
// publishes it, else the container's own address, which the host routes
// to. It fails the test (panics for a stack from Start) when there is
// none; LookupAddr returns the error instead.
func (s *Stack) Addr(service string, port int) string {
	if s.tb != nil {
		s.tb.Helper()
	}
	addr, err := s.LookupAddr(service, port)
	if err != nil {
		s.fail(err)
	}
	return addr
}

// LookupAddr is Addr returning its error.
func (s *Stack) LookupAddr(service string, port int) (string, error) {
	return s.e.ServiceAddr(context.Background(), s.tw.Project, service, port, "tcp")
}

// ExitError is a command run by Exec that exited with a non-zero code.
type ExitError struct {
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("exit status %d", e.Code)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// Exec runs a command in the running container of a service (replica 1)
// and returns its standard output. A command that exits non-zero returns
// an *ExitError with its code and standard error.
func (s *Stack) Exec(ctx context.Context, service string, cmd ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	code, err := s.e.Exec(ctx, s.tw.Project, project.ExecOptions{Service: service, Command: cmd, Stdio: project.Stdio{Out: &stdout, Err: &stderr}})
	if err != nil {
		return stdout.String(), fmt.Errorf("exec in %s: %w", service, err)
	}
	if code != 0 {
		return stdout.String(), &ExitError{Code: code, Stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// Logs is everything a service's containers wrote so far, standard output
// and error, a line at a time in the order written. It fails the test
// (panics for a stack from Start) when the logs cannot be read.
func (s *Stack) Logs(service string) string {
	if s.tb != nil {
		s.tb.Helper()
	}
	out, err := s.logs(service, -1)
	if err != nil {
		s.fail(err)
	}
	return out
}

func (s *Stack) logs(service string, tail int) (string, error) {
	var b strings.Builder
	err := s.e.Logs(context.Background(), s.tw.Project, project.LogsOptions{
		Services: []string{service}, Tail: tail,
		Line: func(_ string, l project.LogLine) { b.WriteString(l.Text + "\n") },
	})
	if err != nil {
		return b.String(), fmt.Errorf("logs of %s: %w", service, err)
	}
	return b.String(), nil
}

// logFailure writes the state, health and last log lines of every
// service to the failed test's log, so that it shows why.
func (s *Stack) logFailure(lines int) {
	if lines == 0 {
		lines = 30
	}
	ps, err := s.e.Ps(context.Background(), s.tw.Project, project.PsOptions{All: true})
	if err != nil {
		s.tb.Logf("berthtest: stack %s: %v", s.Name, err)
		return
	}
	for _, c := range ps {
		logs, _ := s.logs(c.Service, lines)
		s.tb.Logf("berthtest: %s (%s): %s; last %d lines:\n%s", c.Service, c.Name, c.Status, lines, logs)
	}
}
