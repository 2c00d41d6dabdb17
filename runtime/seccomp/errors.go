package seccomp

import "errors"

// ErrInvalid means a seccomp profile is not valid or cannot be applied.
var ErrInvalid = errors.New("invalid seccomp profile")
