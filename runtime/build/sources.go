package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// source is one COPY or ADD source after wildcard expansion: a file or a
// directory found in its root (the build context, another context, or a
// stage's or image's file system), a heredoc, or a URL.
//
// Sources are found as BuildKit finds them: the path and its wildcards
// are resolved inside the root, following symlinks as if the root were /,
// so a link can never lead a copy to the host's files. The root is then
// held open, and what is under a directory source is read through it
// without following links: a symlink in the tree is copied as a symlink.
type source struct {
	name    string      // the name it takes in a destination directory
	root    *os.Root    // a directory source itself, or a file source's directory
	file    string      // a file source's name in root
	fi      fs.FileInfo // nil for a heredoc or a URL
	entries []entry     // a directory source's contents, parents first
	data    []byte      // a heredoc's text
	url     string      // ADD's download, fetched when the layer is made
}

// entry is one thing under a directory source.
type entry struct {
	rel string // slash-separated, relative to the directory source
	fi  fs.FileInfo
}

func (s *source) isDir() bool { return s.fi != nil && s.fi.IsDir() }

// name of a thing of the source in its root: rel is "" for a file source.
func (s *source) at(rel string) string {
	if rel == "" {
		return s.file
	}
	return rel
}

func (s *source) open(rel string) (*os.File, error) { return s.root.Open(s.at(rel)) }

func (s *source) readlink(rel string) (string, error) { return s.root.Readlink(s.at(rel)) }

func closeSources(srcs []*source) {
	for _, s := range srcs {
		if s.root != nil {
			s.root.Close()
		}
	}
}

// findSources expands one source (a path or a pattern, relative to root)
// into the files and trees it names. where names the root in errors.
func findSources(root, pattern, where string, ig *ignoreRules) ([]*source, error) {
	matches, err := globInRoot(root, pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pattern, err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s: no such file or directory in %s", pattern, where)
	}
	var out []*source
	for _, m := range matches {
		s, err := openSource(root, m, ig)
		if err != nil {
			closeSources(out)
			return nil, fmt.Errorf("%s: %w", pattern, err)
		}
		if s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// openSource opens the match m (a path in root, unresolved) as a source;
// nil when the ignore rules exclude it.
func openSource(root, m string, ig *ignoreRules) (*source, error) {
	resolved, err := securejoin.SecureJoin(root, m)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, resolved)
	if err != nil {
		return nil, err
	}
	rel = filepath.ToSlash(rel)
	if rel != "." && ig.excluded(rel) {
		return nil, nil
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return nil, err
	}
	s := &source{name: path.Base(m), fi: fi}
	if !fi.IsDir() {
		if s.root, err = os.OpenRoot(filepath.Dir(resolved)); err != nil {
			return nil, err
		}
		s.file = filepath.Base(resolved)
		return s, nil
	}
	if s.root, err = os.OpenRoot(resolved); err != nil {
		return nil, err
	}
	// fs.WalkDir descends only into entries that are directories, never
	// through a symlink, and every name is opened inside the root.
	err = fs.WalkDir(s.root.FS(), ".", func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		full := p
		if rel != "." {
			full = path.Join(rel, p)
		}
		if ig.excluded(full) {
			// An excluded directory is still walked: an exception may
			// include something below it.
			return nil
		}
		efi, err := s.root.Lstat(p)
		if err != nil {
			return err
		}
		if efi.Mode()&fs.ModeSocket != 0 {
			return nil // a tar layer cannot hold a socket
		}
		s.entries = append(s.entries, entry{rel: p, fi: efi})
		return nil
	})
	if err != nil {
		s.root.Close()
		return nil, err
	}
	return s, nil
}

// globInRoot expands pattern (filepath.Match syntax in each component)
// inside root and returns the matches as clean absolute paths in it,
// sorted. Directories are listed at their resolved paths in root.
func globInRoot(root, pattern string) ([]string, error) {
	clean := path.Clean("/" + filepath.ToSlash(pattern))
	cur := []string{"/"}
	if clean != "/" {
		for _, part := range strings.Split(strings.TrimPrefix(clean, "/"), "/") {
			var next []string
			for _, c := range cur {
				if !strings.ContainsAny(part, `*?[\`) {
					next = append(next, path.Join(c, part))
					continue
				}
				dir, err := securejoin.SecureJoin(root, c)
				if err != nil {
					return nil, err
				}
				ents, err := os.ReadDir(dir)
				if err != nil {
					continue // not a directory, or missing: no match below it
				}
				for _, e := range ents {
					ok, err := path.Match(part, e.Name())
					if err != nil {
						return nil, err
					}
					if ok {
						next = append(next, path.Join(c, e.Name()))
					}
				}
			}
			cur = next
		}
	}
	var out []string
	for _, c := range cur {
		p, err := securejoin.SecureJoin(root, c)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(p); err == nil {
			out = append(out, c)
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrInvalid) {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// hashSources digests names, modes and contents: a changed file changes
// the step's cache key.
func hashSources(srcs []*source) (string, error) {
	h := sha256.New()
	hashFile := func(s *source, rel string, fi fs.FileInfo) error {
		fmt.Fprintf(h, "%s\x00%o\x00", rel, fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			f, err := s.open(rel)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := s.readlink(rel)
			if err != nil {
				return err
			}
			h.Write([]byte(l))
		}
		return nil
	}
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00", s.name)
		switch {
		case s.url != "":
			h.Write([]byte(s.url))
		case s.fi == nil:
			h.Write(s.data)
		case s.isDir():
			for _, e := range s.entries {
				if err := hashFile(s, e.rel, e.fi); err != nil {
					return "", err
				}
			}
		default:
			if err := hashFile(s, "", s.fi); err != nil {
				return "", err
			}
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
