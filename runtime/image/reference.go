package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// Normalize turns a user's image reference into its full form, as Docker
// does: "busybox" is "docker.io/library/busybox:latest", a digest is kept.
func Normalize(ref string) (string, error) {
	// Docker's grammar first: ggcr's weak validation takes any run of
	// '.', '/' and '-' as a repository, "../../../etc" included.
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	repo := r.Context().RegistryStr() + "/" + r.Context().RepositoryStr()
	repo = strings.Replace(repo, "index.docker.io/", "docker.io/", 1)
	switch v := r.(type) {
	case name.Digest:
		return repo + "@" + v.DigestStr(), nil
	case name.Tag:
		return repo + ":" + v.TagStr(), nil
	}
	return repo, nil
}

// FamiliarName is the short form Docker prints: "busybox:latest" for
// docker.io/library/busybox:latest.
func FamiliarName(full string) string {
	s := strings.TrimPrefix(full, "docker.io/")
	return strings.TrimPrefix(s, "library/")
}
