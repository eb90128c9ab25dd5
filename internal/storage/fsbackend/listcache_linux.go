package fsbackend

import (
	"io/fs"
	"syscall"
)

// stampOf is the stamp of a directory's stat; ok is false when the
// platform's stat does not tell it.
func stampOf(fi fs.FileInfo) (dirStamp, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirStamp{}, false
	}
	return dirStamp{
		dev: uint64(st.Dev), ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(),
	}, true
}
