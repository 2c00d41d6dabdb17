package project

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/berthdev/berth/runtime"
)

// AttachOptions keep Up with the stack once it is up, as an attached
// `docker compose up` does: it follows the output of the services'
// containers until they stop, or until the context ends (Ctrl-C), and
// then stops them.
type AttachOptions struct {
	// Line receives each line of output of the attached containers,
	// never concurrently; with none, no output is followed.
	Line func(name string, l LogLine)
	// NoAttach are services whose output is not followed (--no-attach).
	NoAttach []string
	// AbortOnExit stops the stack as soon as one of its containers has
	// stopped for good: exited, and not to be restarted by its policy.
	// Without it, Up returns once none of them runs.
	AbortOnExit bool
	// ExitCodeFrom names a service whose container's exit code Up returns,
	// as an *ExitError when it is not 0; it implies AbortOnExit.
	ExitCodeFrom string
	// Watch runs the services' develop.watch rules while attached (up
	// --watch); what the watch does reaches Line as the lines of "watch".
	Watch bool
	// Kill, once closed, kills the containers being stopped instead of
	// waiting out their grace period (a second Ctrl-C).
	Kill <-chan struct{}
	// Notice receives what Up tells the user when it stops the stack,
	// and why.
	Notice func(string)
}

func (a *AttachOptions) notice(format string, args ...any) {
	if a.Notice != nil {
		a.Notice(fmt.Sprintf(format, args...))
	}
}

// check refuses, before anything is created, what cannot work.
func (a *AttachOptions) check(p *Project, services []string) error {
	if a.ExitCodeFrom != "" {
		if _, ok := p.Services[a.ExitCodeFrom]; !ok {
			return fmt.Errorf("exit code from: %w: %q (the project has %v)", ErrNoService, a.ExitCodeFrom, p.ServiceNames())
		}
		a.AbortOnExit = true
	}
	if a.Watch {
		return CheckWatch(p, services)
	}
	return nil
}

// attach follows the stack that Up has just brought up. It learns of
// containers that stop from the runtime's events, and looks at the
// project's containers, under the project's lock, at each die or removal:
// a verb that replaces containers (a watch's rebuild, an up or restart
// from another shell) is seen done, not half-way.
//
// It ends when ctx ends (the caller's Ctrl-C), when a container stops for
// good with AbortOnExit, when none of the services' containers runs any
// more, when they are all removed (a down from elsewhere), or when the
// watch fails. Then it stops the services' containers, and returns
// ctx's error when ctx ended.
func (e *Engine) attach(ctx context.Context, p *Project, services []string, a AttachOptions, timeout *time.Duration, ev Events) error {
	// The stop and what follows it must run after ctx has ended.
	bg := context.WithoutCancel(ctx)
	following, stopFollowing := context.WithCancel(bg)
	defer stopFollowing()

	changed := make(chan struct{}, 1)
	ready := make(chan struct{})
	followErr := make(chan error, 1)
	go func() {
		followErr <- e.runtime.FollowEvents(following, runtime.FollowOptions{Ready: func() { close(ready) }}, func(ev runtime.Event) error {
			at := ev.Attributes
			if at[LabelProject] != p.Name || at[LabelOneoff] == "True" {
				return nil
			}
			if len(services) > 0 && !slices.Contains(services, at[LabelService]) {
				return nil
			}
			switch ev.Action {
			case "die", "destroy":
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-followErr:
		return fmt.Errorf("following the containers' events: %w", err)
	}

	// The output is followed until the containers have stopped, so that
	// what they print while stopping is shown too.
	logs, stopLogs := context.WithCancel(bg)
	defer stopLogs()
	logsDone := make(chan struct{})
	if attached, any := attachedServices(p, services, a.NoAttach); a.Line != nil && any {
		go func() {
			defer close(logsDone)
			e.Logs(logs, p, LogsOptions{Services: attached, Follow: true, Tail: -1, Line: a.Line})
		}()
	} else {
		close(logsDone)
	}
	watchErr, watchDone := make(chan error, 1), make(chan struct{})
	if a.Watch {
		go func() {
			defer close(watchDone)
			err := e.Watch(following, p, WatchOptions{Services: services, NoUp: true, Events: ev, Log: func(s string) {
				if a.Line != nil {
					a.Line("watch", LogLine{Time: time.Now(), Stream: "stdout", Text: s})
				}
			}})
			if err != nil && following.Err() == nil {
				watchErr <- fmt.Errorf("watch: %w", err)
			}
		}()
	} else {
		close(watchDone)
	}

	var failed error
	interrupted := false
	for done := false; !done; {
		var err error
		if done, err = e.attachedDone(ctx, p, services, &a); err != nil && ctx.Err() == nil {
			failed = err
			break
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			interrupted, done = true, true
			a.notice("Gracefully stopping... (press Ctrl+C again to force)")
		case <-changed:
		case failed = <-watchErr:
			done = true
		case err := <-followErr:
			failed, done = fmt.Errorf("following the containers' events: %w", err), true
		}
	}

	// The watch ends before the stop, so that it changes no container
	// the stop has stopped.
	stopFollowing()
	<-watchDone
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-a.Kill:
			e.Kill(bg, p, KillOptions{Services: services, Signal: syscall.SIGKILL, RemoveOrphans: true})
		case <-stopped:
		}
	}()
	if err := e.Stop(bg, p, StopOptions{Services: services, Timeout: timeout, Events: ev}); err != nil {
		stopLogs()
		<-logsDone
		return err
	}
	// Every attached container has stopped: their logs end by themselves
	// once read to the end.
	<-logsDone
	switch {
	case failed != nil:
		return failed
	case interrupted:
		return ctx.Err()
	case a.ExitCodeFrom != "":
		return e.exitCodeFrom(bg, p, a.ExitCodeFrom)
	}
	return nil
}

// attachedDone looks at the services' containers, under the project's
// lock, and says whether the attached up is over: all of them removed, one
// stopped for good with AbortOnExit, or none running.
func (e *Engine) attachedDone(ctx context.Context, p *Project, services []string, a *AttachOptions) (bool, error) {
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return false, err
	}
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: services})
	unlock()
	if err != nil {
		return false, err
	}
	if len(cs) == 0 {
		return true, nil
	}
	if a.AbortOnExit {
		for _, c := range cs {
			if c.Status == runtime.StatusExited || c.Status == runtime.StatusDead {
				a.notice("%s exited with code %d; aborting on container exit...", c.Name, c.ExitCode)
				return true, nil
			}
		}
		return false, nil
	}
	return !slices.ContainsFunc(cs, container.running), nil
}

// attachedServices are the services whose output an attached up follows:
// those it was given (every one when none), but those of noAttach. It
// reports false when that leaves none.
func attachedServices(p *Project, services, noAttach []string) ([]string, bool) {
	if len(noAttach) == 0 {
		return services, true
	}
	all := services
	if len(all) == 0 {
		all = p.ServiceNames()
	}
	var out []string
	for _, s := range all {
		if !slices.Contains(noAttach, s) {
			out = append(out, s)
		}
	}
	return out, len(out) > 0
}

// exitCodeFrom is the exit code of the service's container (its last
// replica), as an *ExitError when it is not 0.
func (e *Engine) exitCodeFrom(ctx context.Context, p *Project, service string) error {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: []string{service}})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return nil
	}
	if code := cs[len(cs)-1].ExitCode; code != 0 {
		return &ExitError{Service: service, Code: code}
	}
	return nil
}
