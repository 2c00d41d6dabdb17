package image

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound means no image has that name or ID.
	ErrNotFound = errors.New("no such image")
	// ErrInUse means an image is used by a container and was not removed.
	ErrInUse = errors.New("image is in use")
	// ErrDigest means content did not match its digest.
	ErrDigest = errors.New("digest mismatch")
	// ErrSize means content was longer or shorter than its descriptor
	// said.
	ErrSize = errors.New("size mismatch")
	// ErrArchive means an image archive was refused: a link that leads
	// out of it, an index that lists itself, an invalid name.
	ErrArchive = errors.New("invalid image archive")
	// ErrUnauthorized means a registry refused the credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrFormat means an archive is neither a docker nor an OCI archive.
	ErrFormat = errors.New("unknown image archive format")
)

// LayerError is a layer refused by the strict unpacker.
type LayerError struct {
	Layer string // the layer's digest
	Entry string // the offending tar entry
	Msg   string
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("layer %s refused: %s: %s", shortDigest(e.Layer), e.Entry, e.Msg)
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
