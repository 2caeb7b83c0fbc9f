package hdf5

import (
	"errors"
	"fmt"
)

// ErrUnsupported is matched (errors.Is) by every error reporting a valid but
// unsupported HDF5 feature.
var ErrUnsupported = errors.New("hdf5: unsupported feature")

// ErrNotFound is matched by errors for missing group members or attributes.
var ErrNotFound = errors.New("hdf5: not found")

// FormatError reports malformed or inconsistent file contents.
type FormatError struct {
	What string // structure being decoded, e.g. "object header"
	Addr uint64 // file address of the structure (relative to base)
	Msg  string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("hdf5: malformed %s at 0x%x: %s", e.What, e.Addr, e.Msg)
}

// UnsupportedError reports a feature this package does not implement.
type UnsupportedError struct {
	Feature string
}

func (e *UnsupportedError) Error() string { return "hdf5: unsupported: " + e.Feature }

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// NotFoundError reports a missing member or attribute.
type NotFoundError struct {
	Where string
	Name  string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("hdf5: %q not found in %s", e.Name, e.Where)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func formatErr(what string, addr uint64, format string, args ...any) error {
	return &FormatError{What: what, Addr: addr, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Feature: fmt.Sprintf(format, args...)}
}

var errShort = errors.New("truncated structure")
