package project

import (
	"context"
	"fmt"
)

// PortOptions are `berth port`'s.
type PortOptions struct {
	Protocol string // tcp (when empty) or udp
	Index    int    // the replica; 0 means 1
}

// Port is the host address ("0.0.0.0:39719", "127.0.0.1:8080") at which a
// running container of the service publishes its private port.
func (e *Engine) Port(ctx context.Context, p *Project, service string, private int, opts PortOptions) (string, error) {
	if _, ok := p.Services[service]; !ok && len(p.Services) > 0 {
		return "", fmt.Errorf("%w: %q (the project has %v)", ErrNoService, service, p.ServiceNames())
	}
	if opts.Protocol == "" {
		opts.Protocol = "tcp"
	}
	if opts.Index <= 0 {
		opts.Index = 1
	}
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: []string{service}, Number: opts.Index, States: runningStates})
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		for _, pub := range e.publishedPorts(c) {
			if pub.TargetPort == private && pub.Protocol == opts.Protocol {
				return fmt.Sprintf("%s:%d", pub.URL, pub.PublishedPort), nil
			}
		}
	}
	return "", fmt.Errorf("no port %d/%s is published by service %q", private, opts.Protocol, service)
}
