package project

import (
	"context"
	"fmt"
)

// WaitOptions are `berth wait`'s.
type WaitOptions struct {
	Services   []string
	DownOnExit bool
}

// Wait blocks until the services' containers stop and returns the first
// exit code.
func (e *Engine) Wait(ctx context.Context, p *Project, opts WaitOptions) (int, error) {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: opts.Services})
	if err != nil {
		return -1, err
	}
	if len(cs) == 0 {
		return -1, fmt.Errorf("%w: no containers to wait for", ErrNoContainers)
	}
	type res struct {
		code int
		err  error
	}
	ch := make(chan res, len(cs))
	for _, c := range cs {
		go func() {
			code, err := e.runtime.Wait(ctx, c.ID)
			ch <- res{code, err}
		}()
	}
	r := <-ch
	if opts.DownOnExit {
		if err := e.Down(ctx, p, DownOptions{}); err != nil {
			return r.code, err
		}
	}
	return r.code, r.err
}
