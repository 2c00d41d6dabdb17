package project

import (
	"context"

	"github.com/berthdev/berth/runtime"
)

// Pause freezes (or with unpause thaws) the project's running containers.
func (e *Engine) Pause(ctx context.Context, p *Project, services []string, unpause bool, ev Events) error {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: services})
	if err != nil {
		return err
	}
	return each(cs, func(c container) error {
		if unpause {
			if c.Status != runtime.StatusPaused {
				return nil
			}
			if err := e.runtime.Unpause(ctx, c.ID); err != nil {
				return err
			}
			ev.emit(containerResource(c.Name), "Unpaused")
			return nil
		}
		if c.Status != runtime.StatusRunning {
			return nil
		}
		if err := e.runtime.Pause(ctx, c.ID); err != nil {
			return err
		}
		ev.emit(containerResource(c.Name), "Paused")
		return nil
	})
}
