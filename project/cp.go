package project

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/runtime"
)

// CopyOptions are `berth cp`'s: one of Source and Destination is
// SERVICE:PATH, the other a host path or "-" for a tar stream on Stdin or
// Stdout.
type CopyOptions struct {
	Source, Destination string
	// Index is the replica of the service; 0 means 1.
	Index  int
	Stdin  io.Reader
	Stdout io.Writer
}

// Copy copies a file or a directory tree between a running container of a
// service and the host, as `docker compose cp` does. Into a directory
// that exists, the copy goes inside it; otherwise it takes the
// destination's name. In the container, paths resolve as the container
// sees them and never lead out of it.
func (e *Engine) Copy(ctx context.Context, p *Project, opts CopyOptions) error {
	if svc, path, ok := servicePath(opts.Source); ok {
		id, err := e.copyContainer(ctx, p, svc, opts.Index)
		if err != nil {
			return err
		}
		if opts.Destination == "-" {
			return e.runtime.CopyFrom(ctx, id, path, opts.Stdout)
		}
		return e.copyToHost(ctx, id, path, opts.Destination)
	}
	if svc, path, ok := servicePath(opts.Destination); ok {
		id, err := e.copyContainer(ctx, p, svc, opts.Index)
		if err != nil {
			return err
		}
		if opts.Source == "-" {
			return e.runtime.CopyTo(ctx, id, path, opts.Stdin)
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(runtime.TarTree(pw, opts.Source)) }()
		err = e.runtime.CopyTo(ctx, id, path, pr)
		pr.CloseWithError(err)
		return err
	}
	return ErrCopyPaths
}

// servicePath splits SERVICE:PATH; a host path (with a slash before any
// colon, or none) is not one.
func servicePath(spec string) (service, path string, ok bool) {
	service, path, ok = strings.Cut(spec, ":")
	if !ok || service == "" || strings.Contains(service, "/") {
		return "", "", false
	}
	return service, path, true
}

// copyContainer finds the running replica index (1 when 0) of a service.
func (e *Engine) copyContainer(ctx context.Context, p *Project, service string, index int) (string, error) {
	if index <= 0 {
		index = 1
	}
	cs, err := e.containers(ctx, p.Name, containerQuery{Services: []string{service}, Number: index, States: runningStates})
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "", fmt.Errorf("%w: service %q has no running container", ErrNoContainers, service)
	}
	return cs[0].ID, nil
}

// copyToHost unpacks a container path into dst: into it when dst is an
// existing directory, else as dst itself. It unpacks beside dst first and
// renames, so that a failed copy leaves nothing half-written.
func (e *Engine) copyToHost(ctx context.Context, id, path, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dst)), ".berth-cp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(e.runtime.CopyFrom(ctx, id, path, pw)) }()
	err = runtime.UntarInto(tmp, pr)
	pr.CloseWithError(err)
	if err != nil {
		return err
	}
	got := filepath.Join(tmp, filepath.Base(filepath.Clean("/"+path)))
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return os.Rename(got, filepath.Join(dst, filepath.Base(got)))
	}
	return os.Rename(got, dst)
}
