package fsbackend

import (
	"strings"
	"testing"

	"github.com/dgp-proxy/dgp/internal/storage"
)

// FuzzVersionNames checks the version file name rules: every accepted
// name is a safe path component, ids round-trip through names, and names
// sort newest first.
func FuzzVersionNames(f *testing.F) {
	f.Add("null", uint64(1), uint64(2))
	f.Add("0123456789abcdef0123456789abcdef", uint64(0), uint64(1<<63))
	f.Add("fffffffffffffffenull", uint64(5), uint64(5))
	f.Add("../../etc/passwd", uint64(1700000000000000000), uint64(1700000000000000001))
	f.Add("0123456789ABCDEF0123456789ABCDEF", uint64(9), uint64(3))
	f.Fuzz(func(t *testing.T, name string, a, b uint64) {
		if ok, null := isVersionName(name); ok {
			if strings.ContainsAny(name, "/.%\x00") || (len(name) != versionIDLen && len(name) != seqDigits+len(nullSuffix)) {
				t.Fatalf("unsafe version name %q accepted", name)
			}
			if !null && !validVersionID(name) {
				t.Fatalf("name %q accepted but not a valid id", name)
			}
		}
		if validVersionID(name) && name != storage.NullVersion {
			if ok, null := isVersionName(name); !ok || null {
				t.Fatalf("id %q is not a version name", name)
			}
			if versionName(&objMeta{VersionID: name}) != name {
				t.Fatalf("id %q does not name its file", name)
			}
		}
		ida, idb := newVersionID(a), newVersionID(b)
		for _, id := range []string{ida, idb} {
			if !validVersionID(id) {
				t.Fatalf("newVersionID gave %q", id)
			}
		}
		na := versionName(&objMeta{VersionID: "null", Seq: a})
		if ok, null := isVersionName(na); a != 0 && (!ok || !null) {
			t.Fatalf("null name %q not recognised", na)
		}
		if a < b && (seqPrefix(a) <= seqPrefix(b) || ida[:seqDigits] <= idb[:seqDigits]) {
			t.Fatalf("seq %d < %d but names %q, %q do not sort newest first", a, b, ida, idb)
		}
		// A versions directory name round-trips like any piece.
		if p, kind, ok := parseName(pieceName(name, kindVersions)); !ok || p != name || kind != kindVersions {
			t.Fatalf("versions directory of %q = %q, %d, %v", name, p, kind, ok)
		}
	})
}
