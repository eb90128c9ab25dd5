//go:build !linux

package fsbackend

import "io/fs"

// stampOf: directories are not cached off Linux (their stat's layout
// differs); listings read them each time.
func stampOf(fs.FileInfo) (dirStamp, bool) { return dirStamp{}, false }
