// Package image is berth's image store: an OCI image layout under
// <root>/images (blobs by digest, an index of names) and, under
// <root>/snapshots, each layer unpacked once by chain ID and shared by every
// image that has it.
//
// Blobs are written to a temporary file, verified against their digest and
// renamed into place, so a crash or an interrupted pull never leaves a
// half-written blob under a digest. Snapshots are unpacked the same way:
// into a temporary directory, renamed into place only when the whole layer
// was applied. Layers are unpacked strictly: an entry that would land
// outside the layer's root (a ../ name, a hard link out, a write through a
// symlink that leads out) refuses the whole layer. Device nodes are left
// out, as every container gets a /dev of its own, and the image stored
// carries a warning that says so (Image.Warnings).
//
// Archives given to Load are not trusted: they are read without following
// any link out of them, each blob checked against its descriptor's size and
// digest as it is read, nested indexes followed to a bounded depth, and
// names checked as Docker checks them (see Load).
//
// Every temporary file and directory of the store is locked by the
// process writing it, so that Open removes those a killed berth left
// behind, and only those.
//
// Names follow Docker's conventions: "busybox" is
// docker.io/library/busybox:latest; a name outside Docker's grammar
// ("../../../etc:latest") is refused.
package image
