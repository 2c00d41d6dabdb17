package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthdev/berth/project"
	"github.com/berthdev/berth/runtime/image"
	"github.com/spf13/cobra"
)

func init() {
	register(newImageCommand)
	register(newImagesCommand)
	register(newLoginCommand)
	register(newLogoutCommand)
}

func openImages(g *globalOptions) (*image.Store, error) {
	if err := g.storage(); err != nil {
		return nil, err
	}
	return image.Open(g.Root)
}

func newImageCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images in berth's store"}
	cmd.AddCommand(
		newImageListCommand(g, "ls"),
		newImageImportCommand(g),
		newImageLoadCommand(g),
		newImageSaveCommand(g),
		newImageRemoveCommand(g),
		newImagePruneCommand(g),
		newImageInspectCommand(g),
		newImagePullCommand(g),
		newImagePushCommand(g),
		newImageTagCommand(g),
	)
	return cmd
}

func newImagesCommand(g *globalOptions) *cobra.Command {
	c := newImageListCommand(g, "images [SERVICE...]")
	c.Short = "List the images of the project's containers (outside a project, every image, as image ls)"
	c.Long = `List the images the project's containers were created from, as docker compose
images does. With no project in scope (no compose file found, no -f and no -p)
it lists every image in berth's store, as ` + "`berth image ls`" + ` does.`
	c.Args = cobra.ArbitraryArgs
	store := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 && !projectInScope(g) {
			return store(cmd, args)
		}
		format, _ := cmd.Flags().GetString("format")
		quiet, _ := cmd.Flags().GetBool("quiet")
		if err := checkFormat(format, "table", "json"); err != nil {
			return err
		}
		if all, _ := cmd.Flags().GetBool("all"); all {
			return usageError{"--all lists the intermediate images of builds, which no container is made from: use it with `berth image ls`"}
		}
		return withProject(cmd, g, args, func(cmd *cobra.Command, p *project.Project, e *project.Engine, args []string) error {
			rows, err := e.ProjectImages(cmd.Context(), p, args)
			if err != nil {
				return err
			}
			return printProjectImages(cmd.OutOrStdout(), rows, format, quiet)
		})
	}
	return c
}

func printProjectImages(out io.Writer, rows []project.ImageSummary, format string, quiet bool) error {
	switch {
	case quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			if id := shortImageID(r.ID); !seen[id] {
				seen[id] = true
				fmt.Fprintln(out, id)
			}
		}
		return nil
	case format == "json":
		if rows == nil {
			rows = []project.ImageSummary{}
		}
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE")
	for _, r := range rows {
		tag := r.Tag
		if tag == "" {
			tag = "<none>"
		}
		size := "N/A"
		if r.Size > 0 {
			size = humanSize(r.Size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ContainerName, r.Repository, tag, shortImageID(r.ID), size)
	}
	return tw.Flush()
}

// projectInScope tells whether a command that works both on a project and
// on the whole store has a project to work on: -f, -p or a compose file
// found from the current directory.
func projectInScope(g *globalOptions) bool {
	if len(g.Files) > 0 || g.ProjectName != "" || os.Getenv("COMPOSE_FILE") != "" {
		return true
	}
	wd, err := os.Getwd()
	if err != nil {
		return false
	}
	_, err = project.FindFiles(project.LoadOptions{WorkingDir: wd}, map[string]string{})
	return err == nil
}

func newImageListCommand(g *globalOptions, use string) *cobra.Command {
	var format string
	var quiet, all bool
	cmd := &cobra.Command{
		Use:   use,
		Short: "List images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			s, err := openImages(g)
			if err != nil {
				return err
			}
			imgs, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			if !all {
				// As docker images: a build's intermediate images
				// only with -a.
				hide := image.Intermediates(imgs)
				imgs = slices.DeleteFunc(imgs, func(img *image.Image) bool { return hide[img.ID] })
			}
			return printImages(cmd.OutOrStdout(), imgs, format, quiet, time.Now())
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only IDs")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also the intermediate images of builds")
	return cmd
}

// printImages prints the store's images as a table (their age as of
// now), as JSON, or their short IDs alone.
func printImages(out io.Writer, imgs []*image.Image, format string, quiet bool, now time.Time) error {
	if quiet {
		for _, img := range imgs {
			fmt.Fprintln(out, shortImageID(img.ID))
		}
		return nil
	}
	if format == "json" {
		type row struct {
			Name    string    `json:"Name"`
			ID      string    `json:"ID"`
			Digest  string    `json:"Digest"`
			Size    int64     `json:"Size"`
			Created time.Time `json:"Created"`
		}
		var rows []row
		for _, img := range imgs {
			rows = append(rows, row{displayName(img), img.ID, img.Digest, img.Size, img.Created})
		}
		return writeJSON(out, rows)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIMAGE ID\tSIZE\tCREATED")
	for _, img := range imgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", displayName(img), shortImageID(img.ID), humanSize(img.Size), humanAge(img.Created, now))
	}
	return tw.Flush()
}

// printWarnings tells the user, once each, what storing images left out
// (unless --log-level is above warn).
func printWarnings(w io.Writer, g *globalOptions, imgs ...*image.Image) {
	if !g.warnings() {
		return
	}
	seen := map[string]bool{}
	for _, img := range imgs {
		for _, m := range img.Warnings {
			if !seen[m] {
				seen[m] = true
				fmt.Fprintln(w, "WARNING:", m)
			}
		}
	}
}

func displayName(img *image.Image) string {
	if strings.HasPrefix(img.Name, "sha256:") {
		return "<none>"
	}
	return image.FamiliarName(img.Name)
}

func shortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// humanAge says how long before now t was.
func humanAge(t, now time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newImageImportCommand(g *globalOptions) *cobra.Command {
	var changes []string
	cmd := &cobra.Command{
		Use:   "import FILE|- NAME",
		Short: "Make a one-layer image from a root file system tarball",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			r, closeFn, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer closeFn()
			cfg, err := parseChanges(changes)
			if err != nil {
				return err
			}
			img, err := s.Import(cmd.Context(), r, args[1], image.ImportOptions{Config: cfg})
			if err != nil {
				return err
			}
			printWarnings(cmd.ErrOrStderr(), g, img)
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, `set image config: "CMD [...]", "ENTRYPOINT [...]", "ENV K=V", "WORKDIR /d", "USER u"`)
	return cmd
}

func openInput(cmd *cobra.Command, path string) (io.Reader, func(), error) {
	if path == "-" {
		return cmd.InOrStdin(), func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func newImageLoadCommand(g *globalOptions) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load images from a docker-archive or OCI archive (stdin by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			if input == "" {
				input = "-"
			}
			r, closeFn, err := openInput(cmd, input)
			if err != nil {
				return err
			}
			defer closeFn()
			imgs, err := s.Load(cmd.Context(), r)
			if err != nil {
				return err
			}
			printWarnings(cmd.ErrOrStderr(), g, imgs...)
			if !quiet {
				for _, img := range imgs {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", displayName(img))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from FILE instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return cmd
}

func newImageSaveCommand(g *globalOptions) *cobra.Command {
	var output, format string
	cmd := &cobra.Command{
		Use:   "save NAME...",
		Short: "Write images as a docker-archive (default) or OCI archive",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			} else if isTerminal(w) {
				return usageError{"refusing to write an archive to a terminal: use -o FILE or redirect"}
			}
			return s.Save(cmd.Context(), w, args, image.Format(format))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	cmd.Flags().StringVar(&format, "format", "docker", "archive format: docker or oci")
	return cmd
}

func newImageRemoveCommand(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NAME|ID...",
		Aliases: []string{"remove"},
		Short:   "Remove images",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Whether a container uses an image joins the containers
			// and the image store: project knows both.
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			names, err := e.RemoveImages(cmd.Context(), args, force)
			for _, n := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", image.FamiliarName(n))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove even if a container uses it")
	return cmd
}

func newImagePruneCommand(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove unused images and unreferenced layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := openEngine(g)
			if err != nil {
				return err
			}
			names, err := e.PruneImages(cmd.Context(), all)
			for _, n := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", image.FamiliarName(n))
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image no container uses, not only unnamed ones")
	return cmd
}

func newImageInspectCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME|ID...",
		Short: "Show images' configuration as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			var out []any
			for _, a := range args {
				img, err := s.Get(cmd.Context(), a)
				if err != nil {
					return err
				}
				out = append(out, map[string]any{
					"Name": img.Name, "Id": img.ID, "Digest": img.Digest, "Created": img.Created,
					"Size": img.Size, "Config": img.Config.Config, "RootFS": img.Config.RootFS,
					"History": img.Config.History, "Os": img.Config.OS, "Architecture": img.Config.Architecture,
				})
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
}

func newImagePullCommand(g *globalOptions) *cobra.Command {
	var platform string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "pull NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			cfg, err := image.LoadConfig(image.ConfigPath())
			if err != nil {
				return err
			}
			opts := image.PullOptions{Config: cfg}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = &p
			}
			if !quiet {
				if opts.Progress, err = pullProgress(cmd.ErrOrStderr(), g); err != nil {
					return err
				}
			}
			img, err := s.Pull(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			printWarnings(cmd.ErrOrStderr(), g, img)
			if !quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "Digest: %s\n", img.Digest)
			}
			fmt.Fprintln(cmd.OutOrStdout(), image.FamiliarName(img.Name))
			return nil
		},
	}
	cmd.Flags().StringVar(&platform, "platform", "", "platform os/arch[/variant] (default: this machine's)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	return cmd
}

func newImagePushCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "push NAME [DESTINATION]",
		Short: "Push an image to its registry, or to DESTINATION",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			cfg, err := image.LoadConfig(image.ConfigPath())
			if err != nil {
				return err
			}
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			return s.Push(cmd.Context(), args[0], dest, image.PushOptions{Config: cfg})
		},
	}
}

func newImageTagCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImages(g)
			if err != nil {
				return err
			}
			return s.Tag(cmd.Context(), args[0], args[1])
		},
	}
}

func newLoginCommand(g *globalOptions) *cobra.Command {
	var user string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login [SERVER]",
		Short: "Log in to a registry (credentials go to ~/.docker/config.json)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			if user == "" {
				return usageError{"login needs --username (-u)"}
			}
			if !passwordStdin {
				return usageError{"login reads the password from stdin: use --password-stdin"}
			}
			b, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return err
			}
			cfg, err := image.LoadConfig(image.ConfigPath())
			if err != nil {
				return err
			}
			if err := image.Login(cmd.Context(), server, user, strings.TrimRight(string(b), "\r\n"), cfg); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	return cmd
}

func newLogoutCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Remove stored credentials for a registry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := "docker.io"
			if len(args) == 1 {
				server = args[0]
			}
			return image.Logout(server)
		},
	}
}
