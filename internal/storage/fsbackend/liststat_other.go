//go:build !linux

package fsbackend

import "os"

// pageStat reads the metadata of a listing page's objects: statObject
// each, off Linux (see liststat_linux.go).
type pageStat struct{}

func (*pageStat) stat(base *os.Root, rel, key string) (*objMeta, error) {
	return statObject(base, rel, key)
}

// Close does nothing.
func (*pageStat) Close() {}
