package project

import (
	"context"
	"errors"
	"os"
	"time"
)

// RemoveOptions are `berth rm`'s.
type RemoveOptions struct {
	Services []string
	Force    bool // stop running containers first
	Stop     bool
	Volumes  bool // anonymous volumes of the removed containers
	Events   Events
}

// Remove removes stopped service containers (running ones with Stop).
func (e *Engine) Remove(ctx context.Context, p *Project, opts RemoveOptions) error {
	unlock, err := e.lock(ctx, p.Name)
	if err != nil {
		return err
	}
	defer unlock()
	q := containerQuery{Services: opts.Services}
	if opts.Stop || opts.Force {
		cs, err := e.containers(ctx, p.Name, q)
		if err != nil {
			return err
		}
		if err := e.stopInOrder(ctx, p, cs, nil, opts.Events); err != nil {
			return err
		}
	}
	q.States = stoppedStates
	stopped, err := e.containers(ctx, p.Name, q)
	if err != nil {
		return err
	}
	return each(stopped, func(c container) error {
		return e.removeContainer(ctx, c, nil, opts.Volumes, opts.Events)
	})
}

// removeContainer stops (if needed) and removes one container and releases
// what it held: its network attachment and its volume references;
// anonymous volumes only with removeAnon.
func (e *Engine) removeContainer(ctx context.Context, c container, timeout *time.Duration, removeAnon bool, ev Events) error {
	return e.removeContainerOpts(ctx, c, timeout, removeAnon, true, ev)
}

func (e *Engine) removeContainerOpts(ctx context.Context, c container, timeout *time.Duration, removeAnon, detach bool, ev Events) error {
	ev.emit(containerResource(c.Name), "Removing")
	if c.running() {
		if err := e.runtime.Stop(ctx, c.ID, stopTimeout(timeout)); err != nil {
			return err
		}
	}
	// Its processes are gone: the network namespace and veths go while
	// the runtime removes the rest (deleting a veth waits out an RCU
	// grace period, some 10 ms).
	var detached chan error
	if detach {
		detached = make(chan error, 1)
		go func() { detached <- e.detachNetwork(ctx, c.Labels[LabelProject], c.ID) }()
	}
	err := e.runtime.Remove(ctx, c.ID, true)
	if detached != nil {
		err = errors.Join(err, <-detached)
	}
	if err != nil {
		ev.emit(containerResource(c.Name), "Error: "+err.Error())
		return err
	}
	if err := e.afterRemove(ctx, c, removeAnon, false); err != nil {
		return err
	}
	ev.emit(containerResource(c.Name), "Removed")
	return nil
}

// afterRemove releases what a removed container held: its network
// attachment, its volume references, its secrets, and with removeAnon its
// anonymous volumes.
func (e *Engine) afterRemove(ctx context.Context, c container, removeAnon, detach bool) error {
	var errs []error
	if detach {
		errs = append(errs, e.detachNetwork(ctx, c.Labels[LabelProject], c.ID))
	}
	e.volumes.Release(c.ID)
	os.RemoveAll(e.secretsDir(c.Labels[LabelProject], c.ID))
	if removeAnon {
		all, err := e.volumes.List(ctx)
		if err != nil {
			return err
		}
		for _, v := range all {
			if v.Anonymous && v.Labels[labelAnonContainer] == c.ID {
				errs = append(errs, e.volumes.Remove(ctx, v.Name, false))
			}
		}
	}
	return errors.Join(errs...)
}
