package project

import (
	"context"
	"fmt"
	"github.com/berthdev/berth/internal/timing"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v4"
)

// Project is a loaded compose project: compose-go's model, which the rest
// of berth reads.
type Project = types.Project

// LoadOptions mirror the CLI's global flags.
type LoadOptions struct {
	Files         []string // -f; "-" reads standard input
	ProjectName   string   // -p
	ProjectDir    string   // --project-directory
	EnvFiles      []string // --env-file
	Profiles      []string // --profile
	WorkingDir    string   // where to look for a compose file; the current directory when empty
	Environ       []string // the process environment; os.Environ() when nil
	Stdin         io.Reader
	NoInterpolate bool
	// Services are the services a command names: a service of a
	// profile that is not enabled is enabled when named, as compose-spec
	// says for a service a command targets explicitly.
	Services []string
	// Warn receives what berth reads and ignores (swarm-only keys), once
	// per key; nil discards it.
	Warn func(msg string)
	// CacheDir, when set, holds what spares loading the same files again
	// the compose schema's validation; see validCache.
	CacheDir string
}

// fileNames are the compose file names found by walking up from the
// working directory, in order of preference; Fig's come last.
var fileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml", "fig.yml", "fig.yaml"}

var overrideNames = map[string][]string{
	"compose.yaml":        {"compose.override.yaml", "compose.override.yml"},
	"compose.yml":         {"compose.override.yml", "compose.override.yaml"},
	"docker-compose.yaml": {"docker-compose.override.yaml", "docker-compose.override.yml"},
	"docker-compose.yml":  {"docker-compose.override.yml", "docker-compose.override.yaml"},
}

func init() {
	// compose-go warns through logrus; berth reports problems itself.
	logrus.SetLevel(logrus.ErrorLevel)
}

// FindFiles resolves which compose files a command reads: -f, else
// COMPOSE_FILE, else the first known name found walking up from dir (with
// its override file).
func FindFiles(opts LoadOptions, env map[string]string) ([]string, error) {
	if len(opts.Files) > 0 {
		return opts.Files, nil
	}
	if v := env["COMPOSE_FILE"]; v != "" {
		sep := string(os.PathListSeparator)
		if s := env["COMPOSE_PATH_SEPARATOR"]; s != "" {
			sep = s
		}
		return strings.Split(v, sep), nil
	}
	dir := opts.WorkingDir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	for {
		for _, n := range fileNames {
			p := filepath.Join(dir, n)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				files := []string{p}
				for _, o := range overrideNames[n] {
					if _, err := os.Stat(filepath.Join(dir, o)); err == nil {
						files = append(files, filepath.Join(dir, o))
						break
					}
				}
				return files, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("%w in %s or any parent directory (looked for %s); use -f FILE", ErrNoComposeFile, opts.WorkingDir, strings.Join(fileNames, ", "))
		}
		dir = parent
	}
}

// Load reads, converts (Fig v1), interpolates, merges and validates the
// project. Every problem found is reported, each naming the file, the
// service and the field.
func Load(ctx context.Context, opts LoadOptions) (*Project, error) {
	defer timing.Span("load compose file")()
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	files, err := FindFiles(opts, env)
	if err != nil {
		return nil, err
	}
	var details types.ConfigDetails
	var absFiles []string
	sawFig := false
	for _, f := range files {
		var content []byte
		var name string
		if f == "-" {
			if opts.Stdin == nil {
				return nil, fmt.Errorf("-f -: no standard input")
			}
			if content, err = io.ReadAll(opts.Stdin); err != nil {
				return nil, err
			}
			wd := opts.WorkingDir
			if wd == "" {
				wd, _ = os.Getwd()
			}
			name = filepath.Join(wd, "-")
		} else {
			if name, err = filepath.Abs(f); err != nil {
				return nil, err
			}
			if content, err = os.ReadFile(name); err != nil {
				return nil, fmt.Errorf("reading compose file: %w", err)
			}
		}
		converted, fig, err := convertFig(name, content, sawFig)
		if err != nil {
			return nil, err
		}
		sawFig = sawFig || fig
		if err := precheck(filepath.Base(name), converted); err != nil {
			return nil, err
		}
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: name, Content: converted})
		absFiles = append(absFiles, name)
	}
	workingDir := opts.ProjectDir
	if workingDir == "" {
		workingDir = filepath.Dir(absFiles[0])
	}
	if workingDir, err = filepath.Abs(workingDir); err != nil {
		return nil, err
	}
	details.WorkingDir = workingDir

	// The environment for interpolation: the process's, then .env (or
	// --env-file), as compose-go's CLI options compute it.
	po, err := cli.NewProjectOptions(absFiles,
		cli.WithWorkingDirectory(workingDir),
		cli.WithEnv(environ),
		cli.WithEnvFiles(opts.EnvFiles...),
		cli.WithDotEnv,
	)
	if err != nil {
		return nil, err
	}
	details.Environment = po.Environment
	profiles := opts.Profiles
	if len(profiles) == 0 && details.Environment["COMPOSE_PROFILES"] != "" {
		profiles = strings.Split(details.Environment["COMPOSE_PROFILES"], ",")
	}
	name := opts.ProjectName
	explicit := name != ""
	if name == "" {
		name = details.Environment["COMPOSE_PROJECT_NAME"]
		explicit = name != ""
	}
	if explicit {
		if err := checkProjectName(name); err != nil {
			return nil, err
		}
	} else if err := checkFileProjectName(details.ConfigFiles); err != nil {
		return nil, err
	}
	cache := validCache{dir: opts.CacheDir}
	key, cacheable := cache.key(details, opts, name, profiles)
	validated := cacheable && cache.valid(key)
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		// Identical input already passed the schema and compose-go's
		// checks; berth's own Validate below runs every time.
		o.SkipValidation = validated
		o.Profiles = profiles
		o.SkipInterpolation = opts.NoInterpolate
		o.ResolvePaths = true
		// References between services and resources are checked by
		// Validate, whose messages name the service and the field.
		o.SkipConsistencyCheck = true
		if explicit {
			o.SetProjectName(name, true)
		} else {
			o.SetProjectName(loader.NormalizeProjectName(filepath.Base(workingDir)), false)
		}
	})
	if err != nil {
		return nil, loadError(absFiles, err)
	}
	if cacheable && !validated {
		cache.remember(key)
	}
	if p.Name == "" {
		return nil, fmt.Errorf("project name: %q has no letters or digits to make a project name of; use -p NAME", filepath.Base(workingDir))
	}
	p.ComposeFiles = absFiles
	var targeted []string
	for _, s := range opts.Services {
		if _, ok := p.DisabledServices[s]; ok {
			targeted = append(targeted, s)
		}
	}
	if len(targeted) > 0 {
		if p, err = p.WithServicesEnabled(targeted...); err != nil {
			return nil, loadError(absFiles, err)
		}
	}
	p, err = p.WithServicesEnvironmentResolved(false)
	if err != nil {
		return nil, loadError(absFiles, err)
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	if opts.Warn != nil {
		for _, w := range Ignored(p) {
			opts.Warn(filepath.Base(absFiles[0]) + ": " + w)
		}
	}
	return p, nil
}

// checkProjectName applies compose's rule to an explicit name.
func checkProjectName(name string) error {
	if loader.NormalizeProjectName(name) != name {
		return fmt.Errorf("project name %q: must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit", name)
	}
	return nil
}

// checkFileProjectName applies compose's rule to a name: given in a compose
// file, which compose-go would otherwise turn silently into another name
// ("Bad Project!" into "badproject"). A name built by interpolation is left
// to the loader.
func checkFileProjectName(files []types.ConfigFile) error {
	for _, f := range files {
		var doc struct {
			Name any `yaml:"name"`
		}
		if err := yaml.Unmarshal(f.Content, &doc); err != nil {
			continue // compose-go reports syntax errors with their line
		}
		name, ok := doc.Name.(string)
		if !ok || name == "" || strings.Contains(name, "$") {
			continue
		}
		if loader.NormalizeProjectName(name) != name {
			return &ValidationError{File: filepath.Base(f.Filename), Field: "name", Msg: fmt.Sprintf("%q is not a project name: use only lowercase letters, digits, dashes and underscores, starting with a letter or digit", name)}
		}
	}
	return nil
}

// loadError names the file in compose-go's message when it does not.
func loadError(files []string, err error) error {
	msg := err.Error()
	for _, f := range files {
		if strings.Contains(msg, f) || strings.Contains(msg, filepath.Base(f)) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", filepath.Base(files[0]), err)
}
