package project

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berthdev/berth/runtime"
)

// LogLine is a line of a container's output.
type LogLine = runtime.LogLine

// LogsOptions are `berth logs`'s.
type LogsOptions struct {
	Services []string
	Follow   bool
	Tail     int // <0: all
	Since    time.Time
	Until    time.Time
	Index    int
	// Line is called for each line, never concurrently.
	Line func(container string, l LogLine)
}

// Logs passes on the project's container logs; with Follow it keeps going
// until ctx ends or every container has stopped. It returns ctx's error
// when ctx ended it (Ctrl-C).
func (e *Engine) Logs(ctx context.Context, p *Project, opts LogsOptions) error {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: opts.Services, Number: opts.Index})
	if err != nil {
		return err
	}
	if err := e.followLogs(ctx, cs, opts); err != nil {
		return err
	}
	return ctx.Err()
}

// LogName is the prefix compose prints before a container's lines: its
// service and number.
func LogName(c runtime.Info) string {
	if c.Labels[LabelOneoff] == "True" {
		return c.Name
	}
	return fmt.Sprintf("%s-%s", c.Labels[LabelService], c.Labels[LabelNumber])
}

func (e *Engine) followLogs(ctx context.Context, cs []container, opts LogsOptions) error {
	var mu sync.Mutex
	line := func(name string, l runtime.LogLine) error {
		mu.Lock()
		defer mu.Unlock()
		if opts.Line != nil {
			opts.Line(name, l)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := LogName(c.Info)
			errs[i] = e.runtime.Logs(ctx, c.ID, runtime.LogOptions{Follow: opts.Follow, Tail: opts.Tail, Since: opts.Since, Until: opts.Until},
				func(l runtime.LogLine) error { return line(name, l) })
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
