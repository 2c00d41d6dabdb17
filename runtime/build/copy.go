package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

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

// copySource is one file to put in a COPY layer.
type copySource struct {
	abs  string // on the host (or in a mounted stage root)
	dest string // path in the image
	fi   fs.FileInfo
}

// copyStep runs COPY or ADD: sources from the context (or a stage, an
// image, an additional context) become one layer.
func (r *run) copyStep(ctx context.Context, stage int, sr *stageResult, sd instructions.SourcesAndDest, from, chown, chmod string, add bool, text string) error {
	root := r.opts.Context
	useIgnore := true
	var cleanup func()
	if from != "" {
		useIgnore = false
		if p, ok := r.opts.AdditionalContexts[from]; ok {
			root = p
		} else {
			dir, done, err := r.mountSource(ctx, stage, from)
			if err != nil {
				return fmt.Errorf("%s: COPY --from=%s: %w", r.file, from, err)
			}
			root, cleanup = dir, done
		}
	}
	if cleanup != nil {
		defer cleanup()
	}
	dest := sd.DestPath
	if !path.IsAbs(dest) {
		dest = path.Join("/", sr.cfg.Config.WorkingDir, dest)
		if strings.HasSuffix(sd.DestPath, "/") || sd.DestPath == "." {
			dest += "/"
		}
	}
	if len(sd.SourcePaths)+len(sd.SourceContents) > 1 && !strings.HasSuffix(sd.DestPath, "/") && sd.DestPath != "." {
		return fmt.Errorf("%s: %s: with more than one source, the destination must be a directory and end with a /", r.file, text)
	}
	var srcs []copySource
	var remote []string
	for _, s := range sd.SourcePaths {
		if add && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
			remote = append(remote, s)
			continue
		}
		found, err := matchSources(root, s, dest, len(sd.SourcePaths) > 1, useIgnore, r.ignore)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", r.file, text, err)
		}
		srcs = append(srcs, found...)
	}
	for _, c := range sd.SourceContents {
		srcs = append(srcs, copySource{dest: path.Join(dest, c.Path), abs: "inline:" + c.Data})
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
	key := hashKey(sr.key, text, sum, strings.Join(remote, ","), strconv.Itoa(uid), strconv.Itoa(gid), strconv.FormatInt(mode, 8))
	return r.layerStep(ctx, sr, key, func() (io.Reader, error) {
		return copyLayer(srcs, remote, dest, uid, gid, mode, add)
	})
}

// matchSources expands one source (a path or glob, relative to root) into
// files and trees, with their destinations as Docker places them.
func matchSources(root, src, dest string, many, useIgnore bool, ig *ignoreRules) ([]copySource, error) {
	clean := path.Clean("/" + src)
	matches, err := filepath.Glob(filepath.Join(root, clean))
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s: no such file or directory in the build context", src)
	}
	dirDest := strings.HasSuffix(dest, "/") || many || len(matches) > 1
	var out []copySource
	for _, m := range matches {
		rel, _ := filepath.Rel(root, m)
		if useIgnore && ig.excluded(rel) && rel != "." {
			continue
		}
		fi, err := os.Lstat(m)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			d := dest
			if dirDest {
				d = path.Join(dest, fi.Name())
			}
			out = append(out, copySource{abs: m, dest: d, fi: fi})
			continue
		}
		// A directory's contents are copied, not the directory itself.
		err = filepath.Walk(m, func(p string, pfi fs.FileInfo, err error) error {
			if err != nil {
				return err
			}
			prel, _ := filepath.Rel(root, p)
			if useIgnore && prel != "." && ig.excluded(prel) {
				if pfi.IsDir() {
					return nil // an exception may re-include something below
				}
				return nil
			}
			inner, _ := filepath.Rel(m, p)
			out = append(out, copySource{abs: p, dest: path.Join(dest, filepath.ToSlash(inner)), fi: pfi})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dest < out[j].dest })
	return out, nil
}

// hashSources digests paths, modes and contents: a changed file changes
// the step's cache key.
func hashSources(srcs []copySource) (string, error) {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00", s.dest)
		if strings.HasPrefix(s.abs, "inline:") {
			h.Write([]byte(s.abs))
			continue
		}
		fmt.Fprintf(h, "%o\x00", s.fi.Mode())
		switch {
		case s.fi.Mode().IsRegular():
			f, err := os.Open(s.abs)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		case s.fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(s.abs)
			h.Write([]byte(l))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// copyLayer writes the sources as a layer tar.
func copyLayer(srcs []copySource, remote []string, dest string, uid, gid int, mode int64, add bool) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	owner := func(h *tar.Header) {
		if uid >= 0 {
			h.Uid, h.Gid, h.Uname, h.Gname = uid, gid, "", ""
		} else {
			h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		}
		if mode >= 0 && h.Typeflag != tar.TypeSymlink {
			h.Mode = mode
		}
	}
	for _, s := range srcs {
		name := strings.TrimPrefix(s.dest, "/")
		if strings.HasPrefix(s.abs, "inline:") {
			data := strings.TrimPrefix(s.abs, "inline:")
			h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Now()}
			owner(h)
			tw.WriteHeader(h)
			tw.Write([]byte(data))
			continue
		}
		if add && s.fi.Mode().IsRegular() && isArchive(s.abs) {
			if err := extractInto(tw, s.abs, strings.TrimPrefix(path.Dir(s.dest)+"/", "/"), dest); err != nil {
				return nil, err
			}
			continue
		}
		link := ""
		if s.fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(s.abs)
		}
		h, err := tar.FileInfoHeader(s.fi, link)
		if err != nil {
			return nil, err
		}
		h.Name = name
		if s.fi.IsDir() {
			h.Name += "/"
		}
		owner(h)
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if s.fi.Mode().IsRegular() {
			f, err := os.Open(s.abs)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	for _, u := range remote {
		resp, err := http.Get(u)
		if err != nil {
			return nil, fmt.Errorf("ADD %s: %w", u, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("ADD %s: status %d %v", u, resp.StatusCode, err)
		}
		name := strings.TrimPrefix(dest, "/")
		if strings.HasSuffix(dest, "/") {
			name += path.Base(u)
		}
		h := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Now()}
		owner(h)
		tw.WriteHeader(h)
		tw.Write(body)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

func isArchive(p string) bool {
	f, err := os.Open(p)
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

// extractInto copies a local archive's entries under dir (ADD's unpacking).
func extractInto(tw *tar.Writer, p, dir, dest string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := compression.DecompressStream(f)
	if err != nil {
		return err
	}
	defer rd.Close()
	base := strings.TrimPrefix(strings.TrimSuffix(dest, "/"), "/")
	tr := tar.NewReader(rd)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		clean := path.Clean("/" + h.Name)
		h.Name = strings.TrimPrefix(path.Join(base, clean), "/")
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// dirLayer is a layer that only makes a directory (WORKDIR).
func dirLayer(dir string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dir, "/") + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Now()})
	tw.Close()
	return &buf, nil
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

// lockFile takes an exclusive lock on path.
func lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
