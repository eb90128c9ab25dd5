//go:build integration

package conformance

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// answer is a normalised response: Fields holds "status", "code" (the S3
// error code) and "header:<Name>" values; Body the sorted lines
// "Path=value" of an XML success body (or "raw=<bytes>" of an object).
//
// Normalisation rules, the same on every target:
//   - ids (version ids, upload ids, continuation tokens, owner ids and
//     names) become {kindN} in order of first appearance in the run, so
//     "the same id in the same place" still compares; "null" stays;
//   - dates become {var} when equal to a scenario var, else {date};
//     Last-Modified headers become "present";
//   - real bucket names become {placeholder} and the target's host {host};
//     MinIO's "[minio_cache:...]" marker suffixes are removed; a
//     Location's query parameters are sorted;
//   - RequestId and HostId are dropped, and so are empty elements (clients
//     read <Prefix></Prefix> and no Prefix alike); error bodies compare by
//     Code only (Message is free text);
//   - list entries (Version, DeleteMarker, Contents, ...) carry their
//     position among their parent's entries, so the interleaving of
//     versions and delete markers compares while the order of other
//     sibling elements does not.
type answer struct {
	Fields map[string]string
	Body   []string
}

// comparedHeaders are the S3-documented headers compared on every answer.
func comparedHeaders() []string {
	return []string{
		"ETag", "X-Amz-Version-Id", "X-Amz-Delete-Marker", "Content-Range", "Last-Modified",
		"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date", "X-Amz-Object-Lock-Legal-Hold", "Location",
	}
}

// idKind names the placeholder kind of element and header names that hold
// ids ("" for other names).
func idKind(name string) string {
	switch name {
	case "VersionId", "VersionIdMarker", "NextVersionIdMarker", "X-Amz-Version-Id":
		return "v"
	case "UploadId", "UploadIdMarker", "NextUploadIdMarker":
		return "u"
	case "ContinuationToken", "NextContinuationToken":
		return "t"
	case "ID":
		return "owner"
	case "DisplayName":
		return "ownername"
	}
	return ""
}

// listEntry names the counter that numbers the repeated element
// "Parent/Element" ("" when it is not a list entry): versions and delete
// markers share one, so their interleaving compares; common prefixes have
// their own, since S3 lists them apart.
func listEntry(parentAndName string) string {
	switch parentAndName {
	case "ListVersionsResult/Version", "ListVersionsResult/DeleteMarker":
		return "versions"
	case "ListVersionsResult/CommonPrefixes", "ListBucketResult/CommonPrefixes", "ListMultipartUploadsResult/CommonPrefixes":
		return "prefixes"
	case "ListBucketResult/Contents", "ListMultipartUploadsResult/Upload", "ListPartsResult/Part",
		"DeleteResult/Deleted", "DeleteResult/Error", "AccessControlList/Grant", "Buckets/Bucket":
		return parentAndName
	}
	return ""
}

// minioCacheSuffix is what MinIO appends to listing markers
// ("k1[minio_cache:v2,return:]"), an internal cache hint no S3 client reads.
var minioCacheSuffix = regexp.MustCompile(`\[minio_cache:[^\]]*\]$`)

func (rc *runCtx) normalise(st step, raw rawAnswer) answer {
	a := answer{Fields: map[string]string{}}
	if raw.Err != nil {
		a.Fields["status"] = "transport error: " + raw.Err.Error()
		return a
	}
	a.Fields["status"] = strconv.Itoa(raw.Status)
	for _, h := range comparedHeaders() {
		v := raw.Header.Get(h)
		switch {
		case v == "":
			continue
		case h == "Last-Modified":
			v = "present"
		default:
			v = rc.value(h, v)
		}
		a.Fields["header:"+h] = v
	}
	isXML := bytes.HasPrefix(bytes.TrimSpace(raw.Body), []byte("<"))
	leaves, err := flattenXML(raw.Body)
	switch {
	case len(raw.Body) == 0:
	case !isXML:
		a.Fields["header:Content-Length"] = raw.Header.Get("Content-Length")
		a.Fields["header:Content-Type"] = raw.Header.Get("Content-Type")
		a.Body = []string{"raw=" + string(raw.Body)}
	case err != nil:
		a.Body = []string{"unparsable XML: " + err.Error()}
	case raw.Status >= 300 && len(leaves) > 0 && strings.HasPrefix(leaves[0].Path, "Error/"):
		for _, l := range leaves {
			if l.Path == "Error/Code" {
				a.Fields["code"] = l.Value
			}
		}
	default:
		for _, l := range leaves {
			if l.Name == "RequestId" || l.Name == "HostId" || l.Value == "" {
				continue
			}
			a.Body = append(a.Body, l.Path+"="+rc.value(l.Name, l.Value))
		}
		sort.Strings(a.Body)
	}
	if st.Method == http.MethodHead && raw.Status < 300 {
		a.Fields["header:Content-Length"] = raw.Header.Get("Content-Length")
		a.Fields["header:Content-Type"] = raw.Header.Get("Content-Type")
	}
	if st.StatusOnly {
		return answer{Fields: map[string]string{"status": a.Fields["status"], "code": a.Fields["code"]}}
	}
	return a
}

// value normalises one header or element value named name.
func (rc *runCtx) value(name, v string) string {
	v = minioCacheSuffix.ReplaceAllString(v, "")
	if name == "Location" {
		v = sortQuery(v)
	}
	if kind := idKind(name); kind != "" && v != "null" && v != "" {
		m := rc.ids[kind]
		if m == nil {
			m = map[string]string{}
			rc.ids[kind] = m
		}
		if p, ok := m[v]; ok {
			return p
		}
		p := fmt.Sprintf("{%s%d}", kind, len(m)+1)
		m[v] = p
		return p
	}
	if d, ok := parseDate(v); ok {
		for k, vv := range rc.vars {
			if dv, ok := parseDate(vv); ok && dv.Equal(d) {
				return "{" + k + "}"
			}
		}
		return "{date}"
	}
	for k, b := range rc.buckets {
		v = strings.ReplaceAll(v, b, "{"+k+"}")
	}
	return strings.ReplaceAll(v, rc.tg.Host(), "{host}")
}

func parseDate(v string) (time.Time, bool) {
	if len(v) < 19 || (v[4] != '-' && !strings.Contains(v, "GMT")) {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC1123} {
		if d, err := time.Parse(layout, v); err == nil {
			return d.UTC().Truncate(time.Second), true
		}
	}
	return time.Time{}, false
}

// leaf is one text-holding element of an XML document.
type leaf struct {
	Path  string // Root/Child[003]/Leaf
	Name  string
	Value string
}

var charRef = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);`)

// flattenXML lists the leaf elements of doc in document order. Character
// references to characters XML 1.0 forbids (S3 writes &#x1; for a key
// holding U+0001) become "\xNN" markers, and raw control bytes "\rawNN", so
// the decoder accepts them and both forms stay distinguishable.
func flattenXML(doc []byte) ([]leaf, error) {
	doc = charRef.ReplaceAllFunc(doc, func(m []byte) []byte {
		s := string(m[2 : len(m)-1])
		var n int64
		var err error
		if strings.HasPrefix(s, "x") {
			n, err = strconv.ParseInt(s[1:], 16, 32)
		} else {
			n, err = strconv.ParseInt(s, 10, 32)
		}
		if err == nil && n < 0x20 && n != '\t' && n != '\n' && n != '\r' {
			return []byte(fmt.Sprintf(`\x%02x`, n))
		}
		return m
	})
	var clean bytes.Buffer
	for _, c := range doc {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			fmt.Fprintf(&clean, `\raw%02x`, c)
			continue
		}
		clean.WriteByte(c)
	}
	dec := xml.NewDecoder(&clean)
	type frame struct {
		path     string
		name     string
		text     strings.Builder
		children int
		entries  map[string]int
	}
	var stack []*frame
	var out []leaf
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			seg := tk.Name.Local
			path := seg
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children++
				if counter := listEntry(parent.name + "/" + seg); counter != "" {
					if parent.entries == nil {
						parent.entries = map[string]int{}
					}
					seg = fmt.Sprintf("%s[%03d]", seg, parent.entries[counter])
					parent.entries[counter]++
				}
				path = parent.path + "/" + seg
			}
			stack = append(stack, &frame{path: path, name: tk.Name.Local})
			for _, at := range tk.Attr {
				// Namespace declarations are not data; xsi:type is (Grantee).
				if at.Name.Space == "xmlns" || at.Name.Local == "xmlns" {
					continue
				}
				stack[len(stack)-1].children++
				out = append(out, leaf{Path: path + "/@" + at.Name.Local, Name: "@" + at.Name.Local, Value: at.Value})
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tk)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.children == 0 {
				out = append(out, leaf{Path: f.path, Name: f.name, Value: strings.TrimSpace(f.text.String())})
			}
		}
	}
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// stripIndexes removes list-entry positions from a path.
func stripIndexes(p string) string { return indexRE.ReplaceAllString(p, "") }

// sortQuery sorts the query parameters of a URL (a redirect's Location),
// whose order no client depends on.
func sortQuery(v string) string {
	base, q, ok := strings.Cut(v, "?")
	if !ok {
		return v
	}
	params := strings.Split(q, "&")
	sort.Strings(params)
	return base + "?" + strings.Join(params, "&")
}
