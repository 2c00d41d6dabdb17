package project

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Process is one process of a container, as `berth top` lists it.
type Process struct {
	UID  string
	PID  int // on the host
	PPID string
	Cmd  string
}

// ContainerProcesses are the processes of one running container.
type ContainerProcesses struct {
	Name      string
	Processes []Process
}

// Top lists the processes of the services' running containers (all
// services when none are named). A container that stops meanwhile is left
// out.
func (e *Engine) Top(ctx context.Context, p *Project, services []string) ([]ContainerProcesses, error) {
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: services, States: runningStates})
	if err != nil {
		return nil, err
	}
	var out []ContainerProcesses
	for _, c := range cs {
		pids, err := e.runtime.Processes(ctx, c.ID)
		if err != nil {
			continue
		}
		cp := ContainerProcesses{Name: c.Name}
		for _, pid := range pids {
			uid, ppid, cmd := procInfo(pid)
			cp.Processes = append(cp.Processes, Process{UID: uid, PID: pid, PPID: ppid, Cmd: cmd})
		}
		out = append(out, cp)
	}
	return out, nil
}

// procInfo reads a process's real user ID, parent and command line from
// /proc; what it cannot read (the process exited) stays empty.
func procInfo(pid int) (uid, ppid, cmdline string) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					uid = f[0]
				}
			}
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		cmdline = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	}
	return uid, ppid, cmdline
}
