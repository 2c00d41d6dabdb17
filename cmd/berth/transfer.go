package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime"
	"github.com/spf13/cobra"
)

func init() {
	register(newPullCommand)
	register(newPushCommand)
	register(newCpCommand)
}

func newPullCommand(g *globalOptions) *cobra.Command {
	var opts project.PullOptions
	var quiet bool
	cmd := projectCommand(g, "pull [SERVICE...]", "Pull service images", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			opts.Services, opts.Events = args, ev
			if quiet {
				opts.Events = nil
			} else {
				opts.Progress = pullProgress(cmd.ErrOrStderr(), g)
			}
			return e.Pull(cmd.Context(), p, opts)
		})
	cmd.Flags().BoolVar(&opts.IgnoreFailures, "ignore-pull-failures", false, "pull what it can and ignore images that fail")
	cmd.Flags().BoolVar(&opts.IncludeDeps, "include-deps", false, "also pull the services they depend on")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	return cmd
}

func newPushCommand(g *globalOptions) *cobra.Command {
	var ignore bool
	cmd := projectCommand(g, "push [SERVICE...]", "Push service images", cobra.ArbitraryArgs,
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			ev, err := events(cmd, g)
			if err != nil {
				return err
			}
			return e.Push(cmd.Context(), p, args, ignore, ev)
		})
	cmd.Flags().BoolVar(&ignore, "ignore-push-failures", false, "push what it can")
	return cmd
}

// newCpCommand copies between a running service container and the host:
// SERVICE:SRC DEST or SRC SERVICE:DEST, with "-" for a tar stream.
func newCpCommand(g *globalOptions) *cobra.Command {
	var index int
	cmd := projectCommand(g, "cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH", "Copy files between a service container and the host", cobra.ExactArgs(2),
		func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			src, dst := args[0], args[1]
			ps, err := e.Ps(cmd.Context(), p, project.PsOptions{})
			if err != nil {
				return err
			}
			find := func(spec string) (string, string, bool) {
				svc, path, ok := strings.Cut(spec, ":")
				if !ok || svc == "" || strings.Contains(svc, "/") {
					return "", "", false
				}
				want := index
				if want == 0 {
					want = 1
				}
				for _, s := range ps {
					if s.Service == svc && s.Number == want {
						return s.ID, path, true
					}
				}
				return "", path, true
			}
			if id, path, ok := find(src); ok {
				if id == "" {
					return fmt.Errorf("service %q has no running container", strings.Split(src, ":")[0])
				}
				if dst == "-" {
					return e.Runtime.CopyFrom(cmd.Context(), id, path, cmd.OutOrStdout())
				}
				return copyToHost(cmd, e, id, path, dst)
			}
			if id, path, ok := find(dst); ok {
				if id == "" {
					return fmt.Errorf("service %q has no running container", strings.Split(dst, ":")[0])
				}
				if src == "-" {
					return e.Runtime.CopyTo(cmd.Context(), id, path, cmd.InOrStdin())
				}
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(tarHostPath(src, pw)) }()
				return e.Runtime.CopyTo(cmd.Context(), id, path, pr)
			}
			return usageError{"one of the paths must be SERVICE:PATH"}
		})
	cmd.Flags().IntVar(&index, "index", 0, "the replica, when a service has several")
	return cmd
}

// copyToHost unpacks a container path into dst: into it when dst is an
// existing directory, else as dst itself.
func copyToHost(cmd *cobra.Command, e *project.Engine, id, path, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dst)), ".berth-cp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(e.Runtime.CopyFrom(cmd.Context(), id, path, pw)) }()
	if err := runtime.UntarInto(tmp, pr); err != nil {
		return err
	}
	got := filepath.Join(tmp, filepath.Base(filepath.Clean("/"+path)))
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		return os.Rename(got, filepath.Join(dst, filepath.Base(got)))
	}
	return os.Rename(got, dst)
}

// tarHostPath writes a host file or tree as a tar stream named from its
// base name.
func tarHostPath(src string, w io.Writer) error {
	tw := tar.NewWriter(w)
	base := filepath.Dir(filepath.Clean(src))
	err := filepath.Walk(src, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		h.Name = rel
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
