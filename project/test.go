package project

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/berthdev/berth/internal/failpoint"
	"github.com/berthdev/berth/runtime"
)

// Errors of `berth test` that callers branch on.
var (
	// ErrTestTimeout means the test run took longer than its timeout.
	ErrTestTimeout = errors.New("test timed out")
	// ErrTestInterrupted means the run was cancelled (Ctrl-C, SIGTERM).
	ErrTestInterrupted = errors.New("test interrupted")
)

// TestOptions are `berth test`'s.
type TestOptions struct {
	Service string
	Command []string // replaces the service's command when set
	Env     []string // more environment for the test, KEY=VALUE
	// Timeout bounds the whole run, the start of the dependencies
	// included; 0 means none.
	Timeout time.Duration
	// Keep leaves a stack whose test did not pass for debugging.
	Keep bool
	// LogsOnFailure is how many of the last lines of each dependency's
	// log a failed run reports.
	LogsOnFailure int
	SeedFrom      string
	Pull          string
	Build         bool
	Stdio         runtime.Stdio
	Events        Events
	Warn          func(msg string)
}

// TestOutcome says how a test run ended.
type TestOutcome string

// How a test run ends.
const (
	TestPassed      TestOutcome = "passed"      // the test exited 0
	TestFailed      TestOutcome = "failed"      // the test exited non-zero
	TestError       TestOutcome = "error"       // the test never ran: a dependency failed, an image is missing...
	TestTimedOut    TestOutcome = "timeout"     // the run took longer than TestOptions.Timeout
	TestInterrupted TestOutcome = "interrupted" // the caller's context was cancelled
)

// TestResult is what a test run did.
type TestResult struct {
	Project string
	Service string
	Outcome TestOutcome
	// ExitCode is the test's exit code; -1 when it did not run.
	ExitCode int
	// Setup is the time from nothing to the test's start (images,
	// networks, dependencies started and their conditions met), Run the
	// test's, Teardown the removal of the stack, Total all of it.
	Setup, Run, Teardown, Total time.Duration
	// Addresses are the published ports given to the test (see AddrEnv).
	Addresses map[string]string
	// Services is every container of the stack as it was at the end of
	// the test, before the stack was removed.
	Services []TestService
	// Kept says the stack was left for debugging (TestOptions.Keep).
	Kept bool
	// Removed says nothing of the stack is left.
	Removed bool
}

// TestService is one container of a test's stack at the end of the test.
type TestService struct {
	Service  string
	Name     string
	Test     bool // the test's own container
	State    string
	ExitCode int
	Health   string
	// LastProbe is the last health check's result, if any ran.
	LastProbe *runtime.Probe
	// Logs are the last lines of the container's log, for a run that
	// did not pass.
	Logs []runtime.LogLine
}

// Test runs a service's command in a throwaway stack of the project (see
// Throwaway): it starts the service's dependencies and waits for their
// depends_on conditions, runs the service attached, and removes everything
// of the stack, whatever happened: the test failing, ctx being cancelled,
// the timeout. Only a stack whose test did not pass and that Keep asks for
// is left. It returns an error when the test could not run to its end, or
// the stack could not be removed; a test that ran and failed is an
// Outcome, not an error.
func (e *Engine) Test(ctx context.Context, p *Project, opts TestOptions) (TestResult, error) {
	begin := time.Now()
	res := TestResult{Service: opts.Service, ExitCode: -1}
	if _, ok := p.Services[opts.Service]; !ok {
		res.Outcome = TestError
		return res, fmt.Errorf("%w: %q (the project has %v)", ErrNoService, opts.Service, p.ServiceNames())
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if opts.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, opts.Timeout)
	}
	defer cancel()
	t, err := e.NewThrowaway(runCtx, p, ThrowawayOptions{SeedFrom: opts.SeedFrom, Warn: opts.Warn, Events: opts.Events})
	if t == nil {
		res.Outcome = TestError
		return res, err
	}
	res.Project = t.Project.Name
	ran := false
	if err == nil {
		ran, err = e.runTest(runCtx, t, opts, &res)
	}
	switch {
	case ctx.Err() != nil:
		res.Outcome, err = TestInterrupted, ErrTestInterrupted
	case runCtx.Err() != nil:
		res.Outcome, err = TestTimedOut, fmt.Errorf("%w after %s", ErrTestTimeout, opts.Timeout)
	case err != nil || !ran:
		res.Outcome = TestError
	case res.ExitCode == 0:
		res.Outcome = TestPassed
	default:
		res.Outcome = TestFailed
	}
	lines := 0
	if res.Outcome != TestPassed {
		lines = opts.LogsOnFailure
	}
	bg := context.WithoutCancel(ctx)
	res.Services = e.testServices(bg, t.Project.Name, lines)
	// An interrupted run is one the user or the CI job gave up on: it
	// goes, even with Keep.
	if opts.Keep && res.Outcome != TestPassed && res.Outcome != TestInterrupted {
		if kerr := t.Keep(); kerr != nil {
			return res, errors.Join(err, kerr)
		}
		res.Kept = true
		res.Total = time.Since(begin)
		return res, err
	}
	start := time.Now()
	rerr := t.Remove(bg, opts.Events)
	res.Teardown = time.Since(start)
	res.Removed = rerr == nil
	res.Total = time.Since(begin)
	if rerr != nil {
		rerr = fmt.Errorf("removing throwaway stack %s: %w", t.Project.Name, rerr)
	}
	return res, errors.Join(err, rerr)
}

// runTest starts the test's dependencies, waits for their conditions and
// runs the test; it reports whether the test ran to its end.
func (e *Engine) runTest(ctx context.Context, t *Throwaway, opts TestOptions, res *TestResult) (bool, error) {
	p := t.Project
	start := time.Now()
	deps, err := selectServices(p, []string{opts.Service}, true)
	if err != nil {
		return false, err
	}
	var others []string
	for _, d := range deps {
		if d != opts.Service {
			others = append(others, d)
		}
	}
	if len(others) > 0 {
		if err := e.Up(ctx, p, UpOptions{Services: others, Pull: opts.Pull, Build: opts.Build, Events: opts.Events}); err != nil {
			return false, err
		}
		// The dependencies run, the test does not yet.
		failpoint.Kill("test-dependencies-started")
		if err := e.waitDependencies(ctx, p, opts.Service); err != nil {
			return false, err
		}
	}
	addrs, err := t.Addresses(ctx)
	if err != nil {
		return false, err
	}
	res.Addresses = addrs
	env := []string{"BERTH_PROJECT=" + p.Name}
	keys := make([]string, 0, len(addrs))
	for k := range addrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+addrs[k])
	}
	env = append(env, opts.Env...)
	res.Setup = time.Since(start)
	start = time.Now()
	code, err := e.Run(ctx, p, RunOptions{
		Service: opts.Service, Command: opts.Command, Env: env, NoDeps: true,
		Pull: opts.Pull, Build: opts.Build, Stdio: opts.Stdio, Events: opts.Events,
	})
	res.Run = time.Since(start)
	if err != nil {
		return false, err
	}
	res.ExitCode = code
	return true, nil
}

// testServices reports every container of a stack, with the last lines of
// the logs of all but the test's own (whose output the caller saw).
func (e *Engine) testServices(ctx context.Context, project string, lines int) []TestService {
	cs, err := e.containers(ctx, project, containerQuery{Oneoff: true})
	if err != nil {
		return nil
	}
	var out []TestService
	for _, c := range cs {
		ts := TestService{Service: c.Service, Name: c.Name, Test: c.Oneoff, State: string(c.Status), ExitCode: c.ExitCode, Health: c.Health}
		if n := len(c.HealthLog); n > 0 {
			probe := c.HealthLog[n-1]
			ts.LastProbe = &probe
		}
		if lines > 0 && !c.Oneoff {
			e.runtime.Logs(ctx, c.ID, runtime.LogOptions{Tail: lines}, func(l runtime.LogLine) error {
				ts.Logs = append(ts.Logs, l)
				return nil
			})
		}
		out = append(out, ts)
	}
	return out
}
