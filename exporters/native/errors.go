package native

import (
	"errors"
	"fmt"
)

// ErrCorrupt is matched (errors.Is) by every error about a damaged or
// malformed .rtm file.
var ErrCorrupt = errors.New("corrupt .rtm file")

// ErrUnsafePath is matched when the archive names an entry outside itself.
var ErrUnsafePath = errors.New("zip entry path escapes the archive")

// ErrNewerVersion is matched when the file was written by a newer format.
var ErrNewerVersion = errors.New("written by a newer format version")

// FormatError is a problem with an .rtm file: which file, which entry of the
// archive (empty for the archive itself) and what is wrong.
type FormatError struct {
	File  string // path, or "" when read from a stream
	Entry string // e.g. "weights.safetensors"
	Err   error
}

func (e *FormatError) Error() string {
	file := e.File
	if file == "" {
		file = "<stream>"
	}
	where := file
	if e.Entry != "" {
		where += ": " + e.Entry
	}
	hint := "the file is damaged or not an .rtm model; save it again from its source"
	if errors.Is(e.Err, ErrNewerVersion) {
		hint = "upgrade retarget to read it"
	}
	return fmt.Sprintf("%s: %v (%s)", where, e.Err, hint)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Is makes a FormatError match ErrCorrupt, except for a newer format version.
func (e *FormatError) Is(target error) bool {
	return target == ErrCorrupt && !errors.Is(e.Err, ErrNewerVersion)
}
