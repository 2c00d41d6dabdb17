package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/berthdev/berth/internal/statefile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// Config is berth's registry configuration, read from a JSON file (see
// LoadConfig): mirrors per registry and registries reached over plain HTTP.
type Config struct {
	// Mirrors maps a registry ("docker.io") to mirrors tried in order
	// before it ("http://127.0.0.1:5000"). Images keep their own names.
	Mirrors map[string][]string `json:"registry-mirrors,omitempty"`
	// Insecure lists registries ("host:port") reached over plain HTTP.
	// Registries on loopback always are, as Docker allows.
	Insecure []string `json:"insecure-registries,omitempty"`
}

// ConfigPath is where berth reads its registry configuration:
// $BERTH_CONFIG, else /etc/berth/config.json.
func ConfigPath() string {
	if p := os.Getenv("BERTH_CONFIG"); p != "" {
		return p
	}
	return "/etc/berth/config.json"
}

// LoadConfig reads the registry configuration; a missing file is an empty one.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// DefaultPlatform is linux and this machine's architecture.
func DefaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// Progress reports one layer's download.
type Progress struct {
	Layer    string // digest
	Complete int64
	Total    int64
	Done     bool
	Cached   bool
}

// PullOptions control Pull.
type PullOptions struct {
	Platform *v1.Platform
	Config   Config
	Progress func(Progress)
}

func isLoopback(registry string) bool {
	host, _, err := net.SplitHostPort(registry)
	if err != nil {
		host = registry
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) insecure(registry string) bool {
	if isLoopback(registry) {
		return true
	}
	return slices.Contains(c.Insecure, registry)
}

// parseRef parses a reference, allowing plain HTTP where configured.
func (c Config) parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return nil, err
	}
	if c.insecure(r.Context().RegistryStr()) {
		return name.ParseReference(ref, name.WeakValidation, name.Insecure)
	}
	return r, nil
}

// candidates lists where to pull ref from: its mirrors, then itself.
func (c Config) candidates(ref name.Reference) []name.Reference {
	reg := ref.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	var out []name.Reference
	for _, m := range c.Mirrors[reg] {
		host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(m, "https://"), "http://"), "/")
		opts := []name.Option{name.WeakValidation}
		if strings.HasPrefix(m, "http://") || c.insecure(host) {
			opts = append(opts, name.Insecure)
		}
		repo := ref.Context().RepositoryStr()
		var s string
		switch v := ref.(type) {
		case name.Digest:
			s = host + "/" + repo + "@" + v.DigestStr()
		default:
			s = host + "/" + repo + ":" + ref.Identifier()
		}
		if mr, err := name.ParseReference(s, opts...); err == nil {
			out = append(out, mr)
		}
	}
	return append(out, ref)
}

// Pull downloads an image and stores it under its normalised name. Layers
// download in parallel, each blob once, each verified against its digest
// before it is stored; an interrupted pull leaves nothing half-written, and
// pulling again resumes with the blobs already complete.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (*Image, error) {
	full, err := Normalize(ref)
	if err != nil {
		return nil, err
	}
	r, err := opts.Config.parseRef(full)
	if err != nil {
		return nil, err
	}
	platform := DefaultPlatform()
	if opts.Platform != nil {
		platform = *opts.Platform
	}
	var errs []error
	for _, cand := range opts.Config.candidates(r) {
		img, err := s.pullFrom(ctx, cand, full, platform, opts.Progress)
		if err == nil {
			return img, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", cand, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("pulling %s: %w", FamiliarName(full), errors.Join(errs...))
}

func (s *Store) pullFrom(ctx context.Context, ref name.Reference, full string, platform v1.Platform, progress func(Progress)) (*Image, error) {
	rimg, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithPlatform(platform))
	if err != nil {
		return nil, err
	}
	rawM, err := rimg.RawManifest()
	if err != nil {
		return nil, err
	}
	m, err := rimg.Manifest()
	if err != nil {
		return nil, err
	}
	rawCfg, err := rimg.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cfgDigest, err := s.writeBlobBytes(rawCfg)
	if err != nil {
		return nil, err
	}
	if cfgDigest != m.Config.Digest.String() {
		return nil, fmt.Errorf("config: %w", ErrDigest)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	seen := map[string]bool{}
	var mu sync.Mutex
	for _, l := range m.Layers {
		d := l.Digest.String()
		if seen[d] {
			continue
		}
		seen[d] = true
		g.Go(func() error {
			if s.hasBlob(d) {
				if progress != nil {
					progress(Progress{Layer: d, Total: l.Size, Complete: l.Size, Done: true, Cached: true})
				}
				return nil
			}
			layer, err := rimg.LayerByDigest(l.Digest)
			if err != nil {
				return err
			}
			rc, err := layer.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			var src io.Reader = rc
			if progress != nil {
				src = &countingReader{r: rc, f: func(n int64) {
					mu.Lock()
					defer mu.Unlock()
					progress(Progress{Layer: d, Total: l.Size, Complete: n})
				}}
			}
			if _, _, err := s.writeBlob(withContext(gctx, src), d, l.Size); err != nil {
				return fmt.Errorf("layer %s: %w", shortDigest(d), err)
			}
			if progress != nil {
				mu.Lock()
				progress(Progress{Layer: d, Total: l.Size, Complete: l.Size, Done: true})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cfgFile, err := rimg.ConfigFile()
	if err != nil {
		return nil, err
	}
	var diffIDs []string
	for _, d := range cfgFile.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	_, warnings, err := s.snapshots(m.Layers, diffIDs)
	if err != nil {
		return nil, err
	}
	mDigest, _, err := s.writeBlob(strings.NewReader(string(rawM)), "", -1)
	if err != nil {
		return nil, err
	}
	mt, _ := rimg.MediaType()
	mh, _ := v1.NewHash(mDigest)
	if err := s.setName(full, v1.Descriptor{MediaType: mt, Digest: mh, Size: int64(len(rawM))}); err != nil {
		return nil, err
	}
	img, err := s.load(full, mDigest)
	if err != nil {
		return nil, err
	}
	img.Warnings = warnings
	return img, nil
}

type countingReader struct {
	r io.Reader
	n int64
	f func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.f(c.n)
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func withContext(ctx context.Context, r io.Reader) io.Reader { return &ctxReader{ctx, r} }

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// PushOptions control Push.
type PushOptions struct {
	Config Config
}

// Push uploads a stored image to its registry (or to dest when set).
func (s *Store) Push(ctx context.Context, ref string, dest string, opts PushOptions) error {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return err
	}
	target := img.Name
	if dest != "" {
		if target, err = Normalize(dest); err != nil {
			return err
		}
	}
	r, err := opts.Config.parseRef(target)
	if err != nil {
		return err
	}
	li, err := s.v1Image(img)
	if err != nil {
		return err
	}
	if err := remote.Write(r, li, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("pushing %s: %w", FamiliarName(target), err)
	}
	return nil
}

// Login checks credentials against a registry and stores them in the
// docker configuration file (~/.docker/config.json), as `docker login` does.
func Login(ctx context.Context, registry, user, password string, cfg Config) error {
	reg, err := name.NewRegistry(registry, name.WeakValidation)
	if err != nil {
		return err
	}
	if cfg.insecure(reg.RegistryStr()) {
		reg, _ = name.NewRegistry(registry, name.WeakValidation, name.Insecure)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	scopes := []string{reg.Scope(transport.PullScope)}
	tr, err := transport.NewWithContext(ctx, reg, auth, remoteTransport(), scopes)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	// The ping above does not prove the credentials: ask the API with them.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("logging in to %s: %w: the registry answered %s", registry, ErrUnauthorized, resp.Status)
	}
	return editDockerConfig(func(auths map[string]any) {
		auths[configKey(registry)] = map[string]string{"auth": basicAuth(user, password)}
	})
}

// Logout removes stored credentials for a registry.
func Logout(registry string) error {
	return editDockerConfig(func(auths map[string]any) { delete(auths, configKey(registry)) })
}

func configKey(registry string) string {
	if registry == "" || registry == "docker.io" || registry == name.DefaultRegistry {
		return "https://index.docker.io/v1/"
	}
	return registry
}

func dockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", "config.json")
}

func editDockerConfig(edit func(map[string]any)) error {
	p := dockerConfigPath()
	doc := map[string]any{}
	if b, err := os.ReadFile(p); err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	auths, _ := doc["auths"].(map[string]any)
	if auths == nil {
		auths = map[string]any{}
	}
	edit(auths)
	doc["auths"] = auths
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return statefile.WriteJSON(p, doc, statefile.Options{Perm: 0o600, Indent: "\t", Sync: true})
}
