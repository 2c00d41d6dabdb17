package project

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/watch"
	"github.com/compose-spec/compose-go/v2/types"
)

// ErrNoWatch means none of the selected services has develop.watch rules.
var ErrNoWatch = errors.New("no develop.watch rules")

// WatchOptions are `berth watch`'s (and `up --watch`'s).
type WatchOptions struct {
	Services []string
	// NoUp watches the stack as it is instead of bringing it up (and
	// building what it builds) first.
	NoUp bool
	// Prune deletes the layers and blobs a rebuild leaves unused.
	Prune  bool
	Events Events
	// Log receives what the watch does, one line at a time ("Syncing
	// service web: 3 changes"), and the output of sync+exec commands.
	Log func(string)
	// Ready is called once every watch is in place: a change made after
	// it is never missed.
	Ready func()
}

func (o WatchOptions) log(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// watchRule is one develop.watch entry of a service, ready to apply.
type watchRule struct {
	Service string
	types.Trigger
}

// costlyQuiet is how long the tree must be quiet before a rebuild or a
// restart: the first files of a burst must not set one off on their own.
const costlyQuiet = 200 * time.Millisecond

// CheckWatch reports, before anything starts, a project whose selected
// services have no develop.watch rules or whose rules cannot work.
func CheckWatch(p *Project, services []string) error {
	_, err := watchRules(p, services)
	return err
}

// watchRules gathers and checks the develop.watch rules of the selected
// services (all when none are named).
func watchRules(p *Project, services []string) ([]watchRule, error) {
	names := services
	if len(names) == 0 {
		names = p.ServiceNames()
	}
	sort.Strings(names)
	file := ""
	if len(p.ComposeFiles) > 0 {
		file = filepath.Base(p.ComposeFiles[0])
	}
	var rules []watchRule
	var errs []error
	for _, name := range names {
		s, ok := p.Services[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q (the project has %v)", ErrNoService, name, p.ServiceNames())
		}
		if s.Develop == nil {
			continue
		}
		for i, t := range s.Develop.Watch {
			field := fmt.Sprintf("develop.watch[%d]", i)
			bad := func(format string, args ...any) {
				errs = append(errs, &ValidationError{File: file, Service: name, Field: field, Msg: fmt.Sprintf(format, args...)})
			}
			if t.Path == "" {
				bad("a rule needs a path")
				continue
			}
			if !filepath.IsAbs(t.Path) {
				t.Path = filepath.Join(p.WorkingDir, t.Path)
			}
			if real, err := filepath.EvalSymlinks(t.Path); err == nil {
				t.Path = real
			} else {
				bad("path %s: %v", t.Path, err)
				continue
			}
			switch t.Action {
			case types.WatchActionSync, types.WatchActionSyncRestart, types.WatchActionSyncExec:
				if t.Target == "" || !strings.HasPrefix(t.Target, "/") {
					bad("action %s needs target: an absolute path in the container (got %q)", t.Action, t.Target)
				}
				if t.Action == types.WatchActionSyncExec && len(t.Exec.Command) == 0 {
					bad("action sync+exec needs exec.command")
				}
			case types.WatchActionRebuild:
				if s.Build == nil {
					bad("action rebuild needs a build: section in the service")
				}
			case types.WatchActionRestart:
			default:
				bad("action %q is not one of sync, rebuild, restart, sync+restart, sync+exec", t.Action)
			}
			rules = append(rules, watchRule{Service: name, Trigger: t})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		example := "web"
		if len(names) > 0 {
			example = names[0]
		}
		return nil, fmt.Errorf("%w: none of the services %v has any; add a rule such as\n\n"+
			"services:\n  %s:\n    develop:\n      watch:\n        - action: sync\n          path: ./src\n          target: /app/src\n\n"+
			"(sync copies changed files into the running container; rebuild, restart, sync+restart and sync+exec are the other actions)",
			ErrNoWatch, names, example)
	}
	return rules, nil
}

// isSync says whether a rule's action copies files into the container.
func (r watchRule) isSync() bool {
	switch r.Action {
	case types.WatchActionSync, types.WatchActionSyncRestart, types.WatchActionSyncExec:
		return true
	}
	return false
}

// boundPath says whether the rule's path is bind-mounted into its service
// (the Fig way): the container sees the host's files already, and syncing
// them would write through the bind onto themselves.
func boundPath(s types.ServiceConfig, path string) bool {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind || v.Source == "" {
			continue
		}
		src := v.Source
		if real, err := filepath.EvalSymlinks(src); err == nil {
			src = real
		}
		if rel, err := filepath.Rel(src, path); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// watcherRules turns the rules into the watcher's: what each watches and
// what of it to leave out.
func watcherRules(p *Project, rules []watchRule) ([]watch.Rule, error) {
	var out []watch.Rule
	for _, r := range rules {
		s := p.Services[r.Service]
		wr := watch.Rule{Path: r.Path}
		if s.Build != nil && s.Build.Context != "" && !strings.Contains(s.Build.Context, "://") {
			di, err := watch.LoadDockerignore(s.Build.Context, s.Build.Dockerfile)
			if err != nil {
				return nil, fmt.Errorf("service %q: %w", r.Service, err)
			}
			wr.Ignore = append(wr.Ignore, di)
		}
		ig, err := watch.NewMatcher(r.Path, r.Ignore)
		if err != nil {
			return nil, fmt.Errorf("service %q: develop.watch ignore: %w", r.Service, err)
		}
		wr.Ignore = append(wr.Ignore, ig)
		if wr.Include, err = watch.NewMatcher(r.Path, r.Include); err != nil {
			return nil, fmt.Errorf("service %q: develop.watch include: %w", r.Service, err)
		}
		if r.Action != types.WatchActionSync {
			wr.Quiet = costlyQuiet
		}
		out = append(out, wr)
	}
	return out, nil
}

// Watch keeps the services in step with the source tree: it brings the
// stack up (unless NoUp), then applies each change set to the services
// whose develop.watch rules it falls under, until ctx ends. A change that
// cannot be applied (a failed build, a stopped container) is reported
// through Log and the watch goes on; only losing the watch itself (the
// kernel's watch limit) ends it with an error. When ctx ends it (Ctrl-C),
// it returns ctx's error.
func (e *Engine) Watch(ctx context.Context, p *Project, opts WatchOptions) error {
	rules, err := watchRules(p, opts.Services)
	if err != nil {
		return err
	}
	if !opts.NoUp {
		if err := e.Up(ctx, p, UpOptions{Services: opts.Services, Build: true, Events: opts.Events}); err != nil {
			return err
		}
	}
	for i, r := range rules {
		if r.isSync() && boundPath(p.Services[r.Service], r.Path) {
			opts.log("path %s is bind-mounted into service %q: it is not synced (the container sees it already)", r.Path, r.Service)
			rules[i].Action = "" // applies nothing
		}
	}
	wrules, err := watcherRules(p, rules)
	if err != nil {
		return err
	}
	w, err := watch.New(wrules, watch.Options{})
	if err != nil {
		return err
	}
	defer w.Close()
	// The watches are in place: what changes from now on is seen, so the
	// initial sync cannot miss an edit made while it runs.
	for i, r := range rules {
		if r.InitialSync && r.isSync() {
			if err := e.initialSync(ctx, p, r, wrules[i], opts); err != nil {
				opts.log("initial sync of service %q: %v", r.Service, err)
			}
		}
	}
	opts.log("Watch enabled (%d rules, %d directories watched)", len(rules), w.Watches())
	if opts.Ready != nil {
		opts.Ready()
	}
	err = w.Run(ctx, func(b watch.Batch) { e.applyBatch(ctx, p, rules, b, opts) })
	if err != nil {
		return err
	}
	opts.log("Watch disabled")
	return ctx.Err()
}

// hostExists says whether a path exists on the host (without following a
// last symlink).
func hostExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
