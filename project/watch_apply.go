package project

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/berthdev/berth/runtime"
	"github.com/berthdev/berth/runtime/image"
	"github.com/berthdev/berth/watch"
	"github.com/compose-spec/compose-go/v2/types"
)

// syncPath is one host path and where it goes in the container.
type syncPath struct {
	Host, Container string
	Rule            watchRule
}

// containerPath is where the host path p of rule r goes in the container.
func (r watchRule) containerPath(p string) string {
	rel, err := filepath.Rel(r.Path, p)
	if err != nil || rel == "." {
		return r.Target
	}
	return path.Join(r.Target, filepath.ToSlash(rel))
}

// applyBatch applies one change set: rebuilds first (a rebuilt container
// has the new files already), then syncs, restarts and sync+exec
// commands, each service once however many of its files changed.
func (e *Engine) applyBatch(ctx context.Context, p *Project, rules []watchRule, b watch.Batch, opts WatchOptions) {
	if b.Rescan {
		opts.log("Events were lost (the kernel's inotify queue overflowed): rescanned the tree, %d changes", len(b.Changes))
	}
	rebuild := map[string]bool{}
	restart := map[string]bool{}
	syncs := map[string][]syncPath{}
	execs := map[string][]int{}
	for _, c := range b.Changes {
		r := rules[c.Rule]
		if r.isSync() {
			syncs[r.Service] = append(syncs[r.Service], syncPath{Host: c.Path, Container: r.containerPath(c.Path), Rule: r})
		}
		switch r.Action {
		case types.WatchActionRebuild:
			rebuild[r.Service] = true
		case types.WatchActionRestart, types.WatchActionSyncRestart:
			restart[r.Service] = true
		case types.WatchActionSyncExec:
			if !containsInt(execs[r.Service], c.Rule) {
				execs[r.Service] = append(execs[r.Service], c.Rule)
			}
		}
	}
	for _, svc := range sortedKeys(rebuild) {
		e.watchRebuild(ctx, p, svc, opts)
	}
	for _, svc := range sortedKeys(syncs) {
		paths := syncs[svc]
		opts.log("Syncing service %q after %d changes were detected", svc, len(paths))
		if err := e.syncService(ctx, p, svc, paths, false); err != nil {
			opts.log("sync of service %q: %v", svc, err)
		}
	}
	for _, svc := range sortedKeys(restart) {
		if err := e.Restart(ctx, p, RestartOptions{Services: []string{svc}, NoDeps: true, Events: opts.Events}); err != nil {
			opts.log("restart of service %q: %v", svc, err)
			continue
		}
		opts.log("service %q restarted", svc)
	}
	for _, svc := range sortedKeys(execs) {
		for _, i := range execs[svc] {
			e.watchExec(ctx, p, svc, rules[i].Exec, opts)
		}
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// restartDependents are the services that depend on service with
// `restart: true`, and theirs in turn: a rebuild recreates them too.
func restartDependents(p *Project, service string) []string {
	seen := map[string]bool{service: true}
	queue := []string{service}
	var out []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, name := range p.ServiceNames() {
			if d, ok := p.Services[name].DependsOn[cur]; ok && d.Restart && !seen[name] {
				seen[name] = true
				out = append(out, name)
				queue = append(queue, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// watchRebuild builds a service's image with the step cache and, only if
// the build succeeds, recreates the service's containers; the services
// that depend on it with restart: true are restarted, as up does. A failed
// build leaves the running containers as they are.
func (e *Engine) watchRebuild(ctx context.Context, p *Project, svc string, opts WatchOptions) {
	s := p.Services[svc]
	if s.Build == nil {
		opts.log("service %q cannot be rebuilt: it has no build section", svc)
		return
	}
	opts.log("Rebuilding service %q after changes were detected...", svc)
	ref := imageName(p, s)
	opts.Events.emit("Image "+ref, "Building")
	if _, err := e.buildService(ctx, s, ref); err != nil {
		opts.Events.emit("Image "+ref, "Error: "+err.Error())
		opts.log("Build of service %q failed; its running containers are kept: %v", svc, err)
		return
	}
	opts.Events.emit("Image "+ref, "Built")
	opts.log("service %q successfully built", svc)
	targets := append([]string{svc}, restartDependents(p, svc)...)
	before := e.serviceContainerIDs(ctx, p)
	if err := e.Up(ctx, p, UpOptions{Services: targets, NoDeps: true, NoBuild: true, Events: opts.Events}); err != nil {
		opts.log("recreating service %q after its rebuild: %v", svc, err)
		return
	}
	after := e.serviceContainerIDs(ctx, p)
	if after[svc] == before[svc] {
		opts.log("service %q is unchanged: the rebuilt image is the one it runs", svc)
	} else {
		msg := fmt.Sprintf("recreated %q", svc)
		var restarted []string
		for _, t := range targets[1:] {
			restarted = append(restarted, fmt.Sprintf("%q", t))
		}
		if len(restarted) > 0 {
			msg += "; restarted " + strings.Join(restarted, ", ")
		}
		opts.log("%s", msg)
	}
	if opts.Prune {
		if err := e.pruneUnused(ctx); err != nil {
			opts.log("pruning after the rebuild of %q: %v", svc, err)
		}
	}
}

// serviceContainerIDs lists each service's container IDs, to tell what
// an up recreated.
func (e *Engine) serviceContainerIDs(ctx context.Context, p *Project) map[string]string {
	cs, _ := e.containers(ctx, p.Name, containerQuery{})
	out := map[string]string{}
	for _, c := range cs {
		out[c.Service] += c.ID + " "
	}
	return out
}

// pruneUnused deletes the blobs and snapshots no image or container uses
// any more: what a rebuild left behind. No named image is removed.
func (e *Engine) pruneUnused(ctx context.Context) error {
	infos, err := e.runtime.List(ctx)
	if err != nil {
		return err
	}
	inUse := map[string]bool{}
	for _, i := range infos {
		for _, l := range i.Spec.Layers {
			inUse[l] = true
		}
	}
	_, err = e.images.Prune(ctx, image.PruneOptions{
		InUse:        func(string) bool { return true },
		KeepSnapshot: func(dir string) bool { return inUse[dir] },
	})
	return err
}

// watchExec runs a sync+exec command in every running container of the
// service, in parallel, and logs its output line by line.
func (e *Engine) watchExec(ctx context.Context, p *Project, svc string, hook types.ServiceHook, opts WatchOptions) {
	cs, err := e.runningContainers(ctx, p, svc)
	if err != nil {
		opts.log("exec in service %q: %v", svc, err)
		return
	}
	var env []string
	for k, v := range hook.Environment {
		if v != nil {
			env = append(env, k+"="+*v)
		}
	}
	sort.Strings(env)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &lineWriter{emit: func(l string) { opts.log("%s: %s", c.Name, l) }}
			code, err := e.runtime.Exec(ctx, c.ID, runtime.ExecSpec{Args: hook.Command, Env: env, User: hook.User, Cwd: hook.WorkingDir, Privileged: hook.Privileged},
				runtime.Stdio{Out: out, Err: out})
			out.flush()
			switch {
			case err != nil:
				opts.log("exec in %s: %v", c.Name, err)
			case code != 0:
				opts.log("exec in %s: %s exited with code %d", c.Name, quoteCommand(hook.Command), code)
			}
		}()
	}
	wg.Wait()
}

// runningContainers are the service's running (or paused) containers:
// every replica receives a change.
func (e *Engine) runningContainers(ctx context.Context, p *Project, svc string) ([]container, error) {
	out, err := e.containers(ctx, p.Name, containerQuery{Services: []string{svc}, States: []runtime.Status{runtime.StatusRunning, runtime.StatusPaused}})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: service %q has no running container", ErrNoContainers, svc)
	}
	return out, nil
}

// lineWriter hands on whole lines; it is written to from two streams, so
// it locks.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	emit func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(b), nil
		}
		w.emit(string(w.buf.Next(i + 1)[:i]))
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.emit(w.buf.String())
		w.buf.Reset()
	}
}
