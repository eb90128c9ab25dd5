package sigv4

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// v2SubResources are the query parameters a SigV2 CanonicalizedResource
// includes: the sub-resources and response-header overrides S3 documents,
// plus those botocore's HmacV1Auth signs (the de-facto list S3 accepts).
// Sorted, for binary search.
var v2SubResources = [...]string{
	"accelerate",
	"acl",
	"analytics",
	"cors",
	"defaultObjectAcl",
	"delete",
	"inventory",
	"lifecycle",
	"location",
	"logging",
	"metrics",
	"notification",
	"object-lock",
	"partNumber",
	"policy",
	"replication",
	"requestPayment",
	"response-cache-control",
	"response-content-disposition",
	"response-content-encoding",
	"response-content-language",
	"response-content-type",
	"response-expires",
	"restore",
	"select",
	"select-type",
	"storageClass",
	"tagging",
	"torrent",
	"uploadId",
	"uploads",
	"versionId",
	"versioning",
	"versions",
	"website",
}

// isV2SubResource reports whether the query parameter name is signed by SigV2.
func isV2SubResource(name string) bool {
	_, ok := slices.BinarySearch(v2SubResources[:], name)
	return ok
}

// v2Input is what a SigV2 string to sign is built from besides the headers.
type v2Input struct {
	method string
	// dateLine is the Date header, "" when x-amz-date is sent, or the
	// Expires parameter of a presigned URL.
	dateLine string
	// bucket is the bucket named by a virtual-host-style Host, else "".
	bucket string
	// path is the request path as sent (percent-encoded).
	path  string
	query []queryPair
	// presigned: Content-Type, Content-MD5 and x-amz-* may also come from
	// the query string (botocore moves them there when presigning).
	presigned bool
}

// appendV2StringToSign appends the SigV2 string to sign:
//
//	Method \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource
func appendV2StringToSign(dst []byte, h http.Header, in v2Input) []byte {
	dst = append(dst, in.method...)
	dst = append(dst, '\n')
	dst = appendV2Standard(dst, h, "Content-Md5", "content-md5", in)
	dst = append(dst, '\n')
	dst = appendV2Standard(dst, h, "Content-Type", "content-type", in)
	dst = append(dst, '\n')
	dst = append(dst, in.dateLine...)
	dst = append(dst, '\n')
	dst = appendV2AmzHeaders(dst, h, in)
	return appendV2Resource(dst, in)
}

// appendV2Standard appends the trimmed value of a positional header
// (canonical name key), taken from the query (lower-case name) of a
// presigned URL when the header is absent.
func appendV2Standard(dst []byte, h http.Header, key, lower string, in v2Input) []byte {
	if vals := h[key]; len(vals) > 0 {
		return append(dst, strings.TrimSpace(vals[0])...)
	}
	if in.presigned {
		for _, kv := range in.query {
			if strings.EqualFold(kv.key, lower) {
				return append(dst, strings.TrimSpace(kv.value)...)
			}
		}
	}
	return dst
}

// v2AmzHeader is one x-amz-* header of the string to sign.
type v2AmzHeader struct {
	name   string // lower case
	values []string
}

// appendV2AmzHeaders appends the CanonicalizedAmzHeaders: every x-amz-*
// header, name lower-cased, sorted by name, values trimmed and joined
// with ',', one "name:value\n" line each.
func appendV2AmzHeaders(dst []byte, h http.Header, in v2Input) []byte {
	var list []v2AmzHeader
	add := func(name string, vals ...string) {
		name = strings.ToLower(name)
		for i := range list {
			if list[i].name == name {
				list[i].values = append(list[i].values, vals...)
				return
			}
		}
		list = append(list, v2AmzHeader{name: name, values: vals})
	}
	for name, vals := range h {
		if isAmzName(name) {
			add(name, vals...)
		}
	}
	if in.presigned {
		for _, kv := range in.query {
			if isAmzName(kv.key) {
				add(kv.key, kv.value)
			}
		}
	}
	slices.SortFunc(list, func(a, b v2AmzHeader) int { return strings.Compare(a.name, b.name) })
	for _, e := range list {
		dst = append(dst, e.name...)
		dst = append(dst, ':')
		for i, v := range e.values {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, strings.TrimSpace(v)...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

func isAmzName(name string) bool {
	return len(name) > 6 && strings.EqualFold(name[:6], "x-amz-")
}

// appendV2Resource appends the CanonicalizedResource: "/<bucket>" for a
// virtual-host-style request, the path as sent, then the signed
// sub-resources sorted by name, with their decoded values ("?acl",
// "?partNumber=2&uploadId=x"). An empty value is written without '='.
func appendV2Resource(dst []byte, in v2Input) []byte {
	if in.bucket != "" {
		dst = append(dst, '/')
		dst = append(dst, in.bucket...)
	}
	if in.path == "" {
		dst = append(dst, '/')
	} else {
		dst = append(dst, in.path...)
	}
	var sub []queryPair
	for _, kv := range in.query {
		if isV2SubResource(kv.key) {
			sub = append(sub, kv)
		}
	}
	slices.SortStableFunc(sub, func(a, b queryPair) int { return strings.Compare(a.key, b.key) })
	for i, kv := range sub {
		if i == 0 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, '&')
		}
		dst = append(dst, kv.key...)
		if kv.value != "" {
			dst = append(dst, '=')
			dst = append(dst, kv.value...)
		}
	}
	return dst
}

// unescapesTo reports whether the escaped path decodes to path.
func unescapesTo(escaped, path string) bool {
	p, err := url.PathUnescape(escaped)
	return err == nil && p == path
}
