package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berthdev/berth/runtime"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/go-archive/compression"
	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// ignoreRules are the context's .dockerignore patterns.
type ignoreRules struct {
	pm *patternmatcher.PatternMatcher
}

// loadIgnore reads <Dockerfile>.dockerignore or .dockerignore.
func loadIgnore(ctxDir, dockerfile string) (*ignoreRules, error) {
	candidates := []string{filepath.Join(ctxDir, ".dockerignore")}
	if dockerfile != "dockerfile_inline" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, p := range candidates {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		defer f.Close()
		var patterns []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			patterns = append(patterns, l)
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return &ignoreRules{pm: pm}, nil
	}
	return &ignoreRules{}, nil
}

// excluded says whether a context-relative path is ignored.
func (ig *ignoreRules) excluded(rel string) bool {
	if ig == nil || ig.pm == nil {
		return false
	}
	ok, _ := ig.pm.MatchesOrParentMatches(filepath.ToSlash(rel))
	return ok
}

// copyStep runs COPY or ADD: sources from the context (or a stage, an
// image, an additional context) become one layer, placed in the stage as
// Docker places them (see placer).
func (r *run) copyStep(ctx context.Context, stage int, sr *stageResult, sd instructions.SourcesAndDest, from, chown, chmod string, add bool, text string) error {
	root, where := r.opts.Context, "the build context"
	ig := r.ignore
	if from != "" {
		ig = nil
		where = from
		if p, ok := r.opts.AdditionalContexts[from]; ok {
			root = p
		} else {
			dir, done, err := r.mountSource(ctx, stage, from)
			if err != nil {
				return fmt.Errorf("%s: COPY --from=%s: %w", r.file, from, err)
			}
			defer done()
			root = dir
		}
	}
	dest := copyDest(sr.cfg.Config.WorkingDir, sd.DestPath)
	var srcs []*source
	defer func() { closeSources(srcs) }()
	for _, s := range sd.SourcePaths {
		if add && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
			srcs = append(srcs, &source{name: urlName(s), url: s})
			continue
		}
		found, err := findSources(root, s, where, ig)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", r.file, text, err)
		}
		srcs = append(srcs, found...)
	}
	for _, c := range sd.SourceContents {
		srcs = append(srcs, &source{name: c.Path, data: []byte(c.Data)})
	}
	uid, gid := -1, -1
	if chown != "" {
		u, g, err := r.resolveChown(ctx, sr, chown)
		if err != nil {
			return fmt.Errorf("%s: %s: --chown=%s: %w", r.file, text, chown, err)
		}
		uid, gid = u, g
	}
	var mode int64 = -1
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil {
			return fmt.Errorf("%s: %s: --chmod=%s: want an octal mode", r.file, text, chmod)
		}
		mode = int64(m)
	}
	sum, err := hashSources(srcs)
	if err != nil {
		return err
	}
	key := hashKey(sr.key, text, sum, strconv.Itoa(uid), strconv.Itoa(gid), strconv.FormatInt(mode, 8))
	return r.layerStep(ctx, sr, key, func() (io.Reader, error) {
		view, done, err := r.stageView(ctx, sr)
		if err != nil {
			return nil, err
		}
		defer done()
		rd, err := copyLayer(view, srcs, dest, uid, gid, mode, add)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.file, text, err)
		}
		return rd, nil
	})
}

// copyDest is COPY's destination in the image: a relative one is under
// WORKDIR, and "." or "" is WORKDIR itself, as a directory. A trailing /
// is kept: it makes the destination a directory.
func copyDest(workdir, dest string) string {
	if path.IsAbs(dest) {
		return dest
	}
	d := path.Join("/", workdir, dest)
	if strings.HasSuffix(dest, "/") || dest == "." || dest == "" {
		d = strings.TrimSuffix(d, "/") + "/"
	}
	return d
}

// urlName is the file name ADD gives a download in a destination
// directory: the URL path's last element.
func urlName(u string) string {
	if p, err := url.Parse(u); err == nil {
		if b := path.Base(p.Path); b != "." && b != "/" {
			return b
		}
	}
	return "__unnamed__"
}

// copyLayer writes the sources as a layer over the stage whose file
// system is mounted at view.
func copyLayer(view string, srcs []*source, dest string, uid, gid int, mode int64, add bool) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	pl := newPlacer(view, tw, uid, gid, mode)
	intoDir := false
	if len(srcs) > 1 && !strings.HasSuffix(dest, "/") {
		// Docker's rule; BuildKit also copies into a directory that
		// exists already.
		d, err := pl.resolve(dest)
		if err != nil {
			return nil, err
		}
		if !pl.isDir(d) {
			return nil, fmt.Errorf("with more than one source, the destination must be a directory and end with a /")
		}
		intoDir = true
	}
	for _, s := range srcs {
		var err error
		switch {
		case s.url != "":
			err = pl.download(dest, s, intoDir)
		case s.fi == nil:
			h := &tar.Header{Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(s.data)), ModTime: pl.now}
			err = pl.file(dest, s.name, intoDir, h, bytes.NewReader(s.data))
		case s.isDir():
			err = pl.tree(dest, s)
		case add && s.fi.Mode().IsRegular() && isArchive(s):
			err = pl.unpack(dest, s)
		default:
			err = pl.single(dest, s, intoDir)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// header is a copied entry's tar header, with --chown and --chmod.
func (pl *placer) header(s *source, rel string, fi fs.FileInfo) (*tar.Header, error) {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		l, err := s.readlink(rel)
		if err != nil {
			return nil, err
		}
		link = l
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return nil, err
	}
	pl.own(h)
	pl.chmod(h)
	return h, nil
}

// file writes one file (name, header, body) for the destination dest.
func (pl *placer) file(dest, name string, intoDir bool, h *tar.Header, body io.Reader) error {
	t, err := pl.target(dest, name, intoDir)
	if err != nil {
		return err
	}
	return pl.put(t, h, body)
}

// single copies a file source.
func (pl *placer) single(dest string, s *source, intoDir bool) error {
	h, err := pl.header(s, "", s.fi)
	if err != nil {
		return err
	}
	var body io.Reader
	if s.fi.Mode().IsRegular() {
		f, err := s.open("")
		if err != nil {
			return err
		}
		defer f.Close()
		body = f
	}
	return pl.file(dest, s.name, intoDir, h, body)
}

// tree copies a directory source's contents (not the directory itself)
// into dest, merging with what the stage has there.
func (pl *placer) tree(dest string, s *source) error {
	d, err := pl.resolve(dest)
	if err != nil {
		return err
	}
	top, err := pl.header(s, "", s.fi)
	if err != nil {
		return err
	}
	if err := pl.dir(d, top, false); err != nil {
		return err
	}
	for _, e := range s.entries {
		p := path.Join(d, e.rel)
		h, err := pl.header(s, e.rel, e.fi)
		if err != nil {
			return err
		}
		if e.fi.IsDir() {
			// An existing directory (or a link to one) is merged into.
			rp, err := pl.resolve(p)
			if err != nil {
				return err
			}
			if err := pl.dir(rp, h, false); err != nil {
				return err
			}
			continue
		}
		rp, err := pl.resolveParent(p)
		if err != nil {
			return err
		}
		var body io.Reader
		var f *os.File
		if e.fi.Mode().IsRegular() {
			if f, err = s.open(e.rel); err != nil {
				return err
			}
			body = f
		}
		err = pl.put(rp, h, body)
		if f != nil {
			f.Close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// download fetches ADD's URL into dest; the file is 0600, as in Docker.
func (pl *placer) download(dest string, s *source, intoDir bool) error {
	resp, err := http.Get(s.url)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", s.url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("ADD %s: status %d %v", s.url, resp.StatusCode, err)
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(body)), ModTime: pl.now}
	pl.own(h)
	pl.chmod(h)
	return pl.file(dest, s.name, intoDir, h, bytes.NewReader(body))
}

func isArchive(s *source) bool {
	f, err := s.open("")
	if err != nil {
		return false
	}
	defer f.Close()
	rd, err := compression.DecompressStream(f)
	if err != nil {
		return false
	}
	defer rd.Close()
	_, err = tar.NewReader(rd).Next()
	return err == nil
}

// unpack is ADD of a local archive: its entries go under dest, always a
// directory, as tar -x would put them there (an archive's directory
// replaces the metadata of one the stage has).
func (pl *placer) unpack(dest string, s *source) error {
	f, err := s.open("")
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := compression.DecompressStream(f)
	if err != nil {
		return err
	}
	defer rd.Close()
	d, err := pl.resolve(dest)
	if err != nil {
		return err
	}
	if err := pl.dir(d, nil, false); err != nil {
		return err
	}
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		if pl.uid >= 0 {
			pl.own(h)
		}
		if h.Typeflag == tar.TypeDir {
			rp, err := pl.resolve(path.Join(d, name))
			if err != nil {
				return err
			}
			if err := pl.dir(rp, h, true); err != nil {
				return err
			}
			continue
		}
		rp, err := pl.resolveParent(path.Join(d, name))
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeLink {
			lp, err := pl.resolveParent(path.Join(d, path.Clean("/"+h.Linkname)))
			if err != nil {
				return err
			}
			h.Linkname = strings.TrimPrefix(lp, "/")
		}
		if err := pl.put(rp, h, tr); err != nil {
			return err
		}
	}
}

// workdirLayer makes WORKDIR's directory, as BuildKit's mkdir -p in the
// stage: the image's symlinks are followed, and what is made belongs to
// the stage's USER.
func workdirLayer(view, dir string, uid, gid int) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	pl := newPlacer(view, tw, uid, gid, -1)
	d, err := pl.resolve(dir)
	if err != nil {
		return nil, err
	}
	if !pl.isDir(d) {
		if err := pl.dir(d, nil, false); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// stageView mounts the stage's file system so far read-only; a stage
// from scratch is an empty directory.
func (r *run) stageView(ctx context.Context, sr *stageResult) (string, func(), error) {
	if sr.img != nil {
		layers, err := r.b.Images.Snapshots(ctx, sr.img)
		if err != nil {
			return "", nil, err
		}
		if len(layers) > 0 {
			return mountLayers(layers)
		}
	}
	dir, err := os.MkdirTemp("", "berth-build-scratch-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.Remove(dir) }, nil
}

// mountSource mounts, read-only, the root file system of a stage or an
// image for COPY --from.
func (r *run) mountSource(ctx context.Context, stage int, from string) (string, func(), error) {
	var layers []string
	if j := r.stageIndex(from, stage); j >= 0 {
		sr := r.results[j]
		if sr == nil || sr.img == nil {
			return "", nil, fmt.Errorf("stage %s has no file system", from)
		}
		l, err := r.b.Images.Snapshots(ctx, sr.img)
		if err != nil {
			return "", nil, err
		}
		layers = l
	} else {
		img, err := r.baseImage(ctx, from)
		if err != nil {
			return "", nil, err
		}
		if layers, err = r.b.Images.Snapshots(ctx, img); err != nil {
			return "", nil, err
		}
	}
	return mountLayers(layers)
}

// mountLayers mounts layers read-only at a temporary directory.
func mountLayers(layers []string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "berth-build-src-")
	if err != nil {
		return "", nil, err
	}
	var lowers []string
	for i := len(layers) - 1; i >= 0; i-- {
		lowers = append(lowers, layers[i])
	}
	var empty string
	if len(lowers) == 1 {
		empty, _ = os.MkdirTemp("", "berth-empty-")
		lowers = append(lowers, empty)
	}
	if err := unix.Mount("overlay", dir, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowers, ":")); err != nil {
		os.Remove(dir)
		return "", nil, err
	}
	return dir, func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
		if empty != "" {
			os.Remove(empty)
		}
	}, nil
}

// resolveChown resolves --chown's user and group against the image.
func (r *run) resolveChown(ctx context.Context, sr *stageResult, chown string) (int, int, error) {
	if sr.img == nil {
		u, g, ok := strings.Cut(chown, ":")
		ui, err := strconv.Atoi(u)
		if err != nil {
			return 0, 0, fmt.Errorf("names need an image with /etc/passwd")
		}
		gi := ui
		if ok {
			if gi, err = strconv.Atoi(g); err != nil {
				return 0, 0, fmt.Errorf("names need an image with /etc/passwd")
			}
		}
		return ui, gi, nil
	}
	layers, err := r.b.Images.Snapshots(ctx, sr.img)
	if err != nil {
		return 0, 0, err
	}
	dir, done, err := mountLayers(layers)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	eu, err := runtime.ResolveUser(dir, chown, nil)
	if err != nil {
		return 0, 0, err
	}
	return eu.UID, eu.GID, nil
}
