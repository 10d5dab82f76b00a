// Package outage marks errors that mean a backing store cannot be reached, so
// the HTTP layer answers 503 (retry later) instead of 500 (a bug), and the
// server keeps running until the store returns.
package outage

import "errors"

// Error wraps the cause of an unreachable dependency.
type Error struct {
	Dependency string // "postgres" or "redis"
	Err        error
}

func (e *Error) Error() string { return e.Dependency + " unavailable: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err as an outage of dependency.
func New(dependency string, err error) error { return &Error{Dependency: dependency, Err: err} }

// As returns the outage inside err, if any.
func As(err error) (*Error, bool) {
	var o *Error
	ok := errors.As(err, &o)
	return o, ok
}
