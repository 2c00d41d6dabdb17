package project

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// dependencies lists the services that service needs started first:
// depends_on, links, volumes_from and network_mode service:X.
func dependencies(p *Project, service string) []string {
	svc, ok := p.Services[service]
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && s != service && !seen[s] {
			if _, ok := p.Services[s]; ok {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	for d := range svc.DependsOn {
		add(d)
	}
	for _, l := range svc.Links {
		name, _, _ := strings.Cut(l, ":")
		add(name)
	}
	for _, v := range svc.VolumesFrom {
		if strings.HasPrefix(v, "container:") {
			continue
		}
		name, _, _ := strings.Cut(v, ":")
		add(name)
	}
	for _, mode := range []string{svc.NetworkMode, svc.Pid, svc.Ipc} {
		if s, ok := strings.CutPrefix(mode, "service:"); ok {
			add(s)
		}
	}
	sort.Strings(out)
	return out
}

// selectServices is the named services (all when none), with their
// dependencies when withDeps.
func selectServices(p *Project, names []string, withDeps bool) ([]string, error) {
	if len(names) == 0 {
		return p.ServiceNames(), nil
	}
	seen := map[string]bool{}
	var out []string
	var visit func(string) error
	visit = func(n string) error {
		if seen[n] {
			return nil
		}
		if _, ok := p.Services[n]; !ok {
			return fmt.Errorf("%w: %q (the project has %v)", ErrNoService, n, p.ServiceNames())
		}
		seen[n] = true
		if withDeps {
			for _, d := range dependencies(p, n) {
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		out = append(out, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// serviceLevels groups services so each level depends only on earlier
// ones; services within a level are independent and start in parallel.
func serviceLevels(p *Project, services []string) [][]string {
	in := map[string]bool{}
	for _, s := range services {
		in[s] = true
	}
	level := map[string]int{}
	var depth func(string, map[string]bool) int
	depth = func(s string, stack map[string]bool) int {
		if l, ok := level[s]; ok {
			return l
		}
		if stack[s] {
			return 0 // cycles are rejected by validation before this
		}
		stack[s] = true
		d := 0
		for _, dep := range dependencies(p, s) {
			if in[dep] {
				d = max(d, depth(dep, stack)+1)
			}
		}
		delete(stack, s)
		level[s] = d
		return d
	}
	var out [][]string
	for _, s := range services {
		d := depth(s, map[string]bool{})
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], s)
	}
	return out
}

// levels groups containers by their service's level.
func levels(p *Project, cs []container) [][]container {
	var names []string
	seen := map[string]bool{}
	for _, c := range cs {
		// Services the project does not have (all of them, for `-p NAME`
		// without a compose file) go once, in the last group below.
		if _, ok := p.Services[c.Service]; ok && !seen[c.Service] {
			seen[c.Service] = true
			names = append(names, c.Service)
		}
	}
	var out [][]container
	for _, lvl := range serviceLevels(p, names) {
		var group []container
		for _, c := range cs {
			if slices.Contains(lvl, c.Service) {
				group = append(group, c)
			}
		}
		out = append(out, group)
	}
	// Containers of services the project no longer has go last.
	var rest []container
	for _, c := range cs {
		if _, ok := p.Services[c.Service]; !ok {
			rest = append(rest, c)
		}
	}
	if len(rest) > 0 {
		out = append(out, rest)
	}
	return out
}

// reverseLevels is levels in stop order: dependants first.
func reverseLevels(p *Project, cs []container) [][]container {
	l := levels(p, cs)
	for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
		l[i], l[j] = l[j], l[i]
	}
	return l
}

// dependencyRecreated says whether a dependency declared with
// `restart: true` was recreated in this run.
func dependencyRecreated(p *Project, service string, recreated map[string]bool) bool {
	svc := p.Services[service]
	for dep, d := range svc.DependsOn {
		if d.Restart && recreated[dep] {
			return true
		}
	}
	return false
}

// withRestartDependents adds to services (none means all) every service
// that depends on one of them, directly or not, with `restart: true`.
func withRestartDependents(p *Project, services []string) []string {
	if len(services) == 0 {
		return nil
	}
	in := map[string]bool{}
	out := append([]string{}, services...)
	for _, s := range services {
		in[s] = true
	}
	for grew := true; grew; {
		grew = false
		for _, name := range p.ServiceNames() {
			if in[name] {
				continue
			}
			for dep, d := range p.Services[name].DependsOn {
				if d.Restart && in[dep] {
					in[name], grew = true, true
					out = append(out, name)
					break
				}
			}
		}
	}
	return out
}

// findCycle returns one dependency cycle, first service repeated at the
// end, or nil.
func findCycle(p *Project) []string {
	state := map[string]int{} // 0 new, 1 on stack, 2 done
	var stack []string
	var found []string
	var visit func(string) bool
	visit = func(s string) bool {
		state[s] = 1
		stack = append(stack, s)
		for _, d := range dependencies(p, s) {
			switch state[d] {
			case 1:
				for i, x := range stack {
					if x == d {
						found = append(append([]string{}, stack[i:]...), d)
						return true
					}
				}
			case 0:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[s] = 2
		return false
	}
	names := p.ServiceNames()
	sort.Strings(names)
	for _, n := range names {
		if state[n] == 0 && visit(n) {
			return found
		}
	}
	return nil
}
