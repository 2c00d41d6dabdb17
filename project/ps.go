package project

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthdev/berth/runtime"
)

// statusText renders a container's state as `docker compose ps` does.
func statusText(c container) string {
	switch c.Status {
	case runtime.StatusExited:
		s := fmt.Sprintf("Exited (%d)", c.ExitCode)
		if c.ExitCode < 0 {
			s = "Exited (unknown)"
		}
		return s
	case runtime.StatusRunning:
		s := "Up"
		if c.Health != "" {
			s += " (" + c.Health + ")"
		}
		if !c.MonitorAlive {
			s += " (monitor lost)"
		}
		return s
	case runtime.StatusPaused:
		return "Up (Paused)"
	case runtime.StatusRestarting:
		return "Restarting"
	}
	return strings.ToUpper(string(c.Status[:1])) + string(c.Status[1:])
}

func quoteCommand(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(a, " \t\"'") || a == "" {
			fmt.Fprintf(&b, "%q", a)
		} else {
			b.WriteString(a)
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return `"` + s + `"`
}

func portsText(ps []Port) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s:%d->%d/%s", p.URL, p.PublishedPort, p.TargetPort, p.Protocol))
	}
	return strings.Join(parts, ", ")
}

// Summary is one line of `berth ps`.
type Summary struct {
	ID         string `json:"ID"`
	Name       string `json:"Name"`
	Service    string `json:"Service"`
	Image      string `json:"Image"`
	Command    string `json:"Command"`
	Project    string `json:"Project"`
	State      string `json:"State"`
	Status     string `json:"Status"`
	Health     string `json:"Health"`
	ExitCode   int    `json:"ExitCode"`
	Created    int64  `json:"CreatedAt"`
	Publishers []Port `json:"Publishers"`
	Ports      string `json:"Ports"`
	Number     int    `json:"-"`
}

// Port is one published port of a container.
type Port struct {
	URL           string `json:"URL"`
	TargetPort    int    `json:"TargetPort"`
	PublishedPort int    `json:"PublishedPort"`
	Protocol      string `json:"Protocol"`
}

// PsOptions are `berth ps`'s.
type PsOptions struct {
	Services []string
	All      bool     // stopped containers too
	Status   []string // filter by state
}

// Ps lists the project's containers.
func (e *Engine) Ps(ctx context.Context, p *Project, opts PsOptions) ([]Summary, error) {
	q := containerQuery{Services: opts.Services, Oneoff: opts.All}
	switch {
	case len(opts.Status) > 0:
		for _, s := range opts.Status {
			q.States = append(q.States, runtime.Status(s))
		}
	case !opts.All:
		q.States = runningStates
	}
	cs, err := e.containers(ctx, p.Name, q)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, c := range cs {
		s := Summary{
			ID: c.ID, Name: c.Name, Service: c.Service, Image: c.Image, Project: p.Name,
			Command: quoteCommand(c.Spec.Args), State: string(c.Status), Status: statusText(c),
			Health: c.Health, ExitCode: c.ExitCode, Created: c.Created.Unix(), Number: c.Number,
		}
		s.Publishers = e.publishedPorts(c)
		s.Ports = portsText(s.Publishers)
		out = append(out, s)
	}
	return out, nil
}

// publishedPorts lists a container's published ports.
func (e *Engine) publishedPorts(c container) []Port {
	sb, err := e.links.Sandbox(c.Labels[LabelProject], c.ID)
	if err != nil || sb == nil {
		return nil
	}
	var out []Port
	for _, p := range sb.Ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, Port{URL: ip, TargetPort: p.ContainerPort, PublishedPort: p.HostPort, Protocol: p.Protocol})
	}
	return out
}
