package watch

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Matcher matches paths under a base directory against .dockerignore-style
// patterns ("node_modules/", "*.log", "!keep.log"), written relative to the
// base.
type Matcher struct {
	base string
	pm   *patternmatcher.PatternMatcher
}

// NewMatcher compiles patterns relative to base; no patterns gives a nil
// Matcher, which matches nothing.
func NewMatcher(base string, patterns []string) (*Matcher, error) {
	var clean []string
	for _, p := range patterns {
		if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, "#") {
			clean = append(clean, p)
		}
	}
	if len(clean) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(clean)
	if err != nil {
		return nil, fmt.Errorf("patterns %q: %w", clean, err)
	}
	return &Matcher{base: filepath.Clean(base), pm: pm}, nil
}

// LoadDockerignore reads the .dockerignore of a build context (or the
// Dockerfile's own <Dockerfile>.dockerignore, which Docker prefers). No
// file gives a nil Matcher.
func LoadDockerignore(contextDir, dockerfile string) (*Matcher, error) {
	var candidates []string
	if dockerfile != "" {
		df := dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(contextDir, df)
		}
		candidates = append(candidates, df+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(contextDir, ".dockerignore"))
	for _, c := range candidates {
		f, err := os.Open(c)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", c, err)
		}
		m, err := NewMatcher(contextDir, patterns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		return m, nil
	}
	return nil, nil
}

// rel is p relative to the matcher's base, slash-separated, or "" when p
// is not under it.
func (m *Matcher) rel(p string) string {
	r, err := filepath.Rel(m.base, p)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, "../") {
		return ""
	}
	return filepath.ToSlash(r)
}

// Matches says whether p (absolute), or a directory above it, matches.
func (m *Matcher) Matches(p string) bool {
	if m == nil {
		return false
	}
	r := m.rel(p)
	if r == "" {
		return false
	}
	ok, err := m.pm.MatchesOrParentMatches(r)
	return err == nil && ok
}

// Prunes says whether nothing under the directory p can match less than
// p itself: p matches and no exclusion ("!pattern") could take something
// below it back. Such a directory is not even watched.
func (m *Matcher) Prunes(p string) bool {
	if !m.Matches(p) {
		return false
	}
	if !m.pm.Exclusions() {
		return true
	}
	r := m.rel(p)
	for _, pat := range m.pm.Patterns() {
		if !pat.Exclusion() {
			continue
		}
		s := strings.TrimPrefix(pat.String(), "/")
		// An exclusion that names something below p, or whose
		// wildcards could reach below it, keeps p watched.
		if strings.HasPrefix(s, r+"/") || strings.ContainsAny(s, "*?[") {
			return false
		}
	}
	return true
}

// Includes says whether the file p (absolute) matches include patterns; a
// nil Matcher includes everything.
func (m *Matcher) Includes(p string) bool {
	if m == nil {
		return true
	}
	return m.Matches(p)
}

// editorPatterns are the swap, backup and probe files editors write beside
// the files they save: vim's swap files and its 4913 probe, backups ending
// in ~, emacs' lock and autosave files, JetBrains' safe-write files.
var editorPatterns = []string{
	"*.swp", "*.swo", "*.swn", "*.swx", "*~", "4913", ".#*", "#*#",
	"*___jb_old___", "*___jb_tmp___", "*.kate-swp", ".DS_Store",
}

// alwaysIgnoredDirs are never watched nor synced: version control data.
var alwaysIgnoredDirs = []string{".git", ".hg", ".svn"}

// Ephemeral says whether rel, a path relative to a watched tree, is an
// editor's temporary file or inside a version control directory: these
// never make a change.
func Ephemeral(rel string) bool {
	base := filepath.Base(rel)
	for _, pat := range editorPatterns {
		if ok, _ := path.Match(pat, base); ok {
			return true
		}
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		for _, d := range alwaysIgnoredDirs {
			if part == d {
				return true
			}
		}
	}
	return false
}
