//go:build !linux

package fsbackend

import "os"

// pageStat reads the metadata of a listing page's objects: statObject
// each, off Linux (see liststat_linux.go).
type pageStat struct {
	dec metaDecoder // unused: statObject decodes the whole trailer
}

func (*pageStat) stat(base *os.Root, rel, key string) (*objMeta, error) {
	return statObject(base, rel, key)
}

// statDirect is stat; never direct off Linux, so no listing fields are
// kept there (statObject follows symlinks).
func (p *pageStat) statDirect(base *os.Root, rel, key string) (*objMeta, bool, error) {
	m, err := p.stat(base, rel, key)
	return m, false, err
}

// absent is never sure off Linux.
func (*pageStat) absent(*os.Root, string) bool { return false }

// Close does nothing.
func (*pageStat) Close() {}
