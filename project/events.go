package project

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/runtime"
)

// Event is one change in the life of a project's container, as `docker
// compose events` reports it.
type Event struct {
	Time      time.Time
	Service   string
	Container string // its ID
	// Action is create, start, die, kill, stop, pause, unpause, rename,
	// destroy or "health_status: healthy|unhealthy".
	Action string
	// Attributes are the container's name and image, its labels but
	// compose's own, and what the action adds: exitCode (die), signal
	// (kill), oldName (rename).
	Attributes map[string]string
}

// EventsOptions are `berth events`'s.
type EventsOptions struct {
	Services []string
	// Since, when set, first replays the events kept from then on;
	// Until, when set, ends the stream then.
	Since, Until time.Time
	Consumer     func(Event) error
}

// Events calls opts.Consumer with each event of the project's service
// containers (one-off containers left out, as compose does) as the
// runtime records it, until opts.Until, until ctx ends (then it returns
// ctx's error), or until the consumer fails.
func (e *Engine) Events(ctx context.Context, p *Project, opts EventsOptions) error {
	follow := ctx
	if !opts.Until.IsZero() {
		var cancel context.CancelFunc
		follow, cancel = context.WithDeadline(ctx, opts.Until)
		defer cancel()
	}
	if err := e.followEvents(follow, p, opts); err != nil {
		return err
	}
	return ctx.Err()
}

func (e *Engine) followEvents(ctx context.Context, p *Project, opts EventsOptions) error {
	return e.runtime.FollowEvents(ctx, runtime.FollowOptions{Replay: !opts.Since.IsZero()}, func(ev runtime.Event) error {
		a := ev.Attributes
		if a[LabelProject] != p.Name || a[LabelOneoff] == "True" {
			return nil
		}
		if len(opts.Services) > 0 && !slices.Contains(opts.Services, a[LabelService]) {
			return nil
		}
		if ev.Time.Before(opts.Since) || (!opts.Until.IsZero() && ev.Time.After(opts.Until)) {
			return nil
		}
		attrs := maps.Clone(a)
		maps.DeleteFunc(attrs, func(k, _ string) bool { return strings.HasPrefix(k, "com.docker.compose.") })
		return opts.Consumer(Event{Time: ev.Time, Service: a[LabelService], Container: ev.ID, Action: ev.Action, Attributes: attrs})
	})
}
