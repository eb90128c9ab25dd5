//go:build integration

package conformance

import (
	"net/http"
	"strings"
	"testing"
)

// The comparison machinery itself: ids map consistently, list entries keep
// their interleaving, control characters survive, noise is dropped.
func TestNormalise(t *testing.T) {
	rc := &runCtx{tg: &target{URL: "http://127.0.0.1:9"}, buckets: map[string]string{"bucket": "real-bkt"},
		vars: map[string]string{"gov": "2030-01-02T03:04:05Z"}, ids: map[string]map[string]string{}}
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>real-bkt</Name><Prefix></Prefix>
<NextKeyMarker>k&#x1;[minio_cache:v2,return:]</NextKeyMarker>
<Version><Key>a</Key><VersionId>AAA</VersionId><LastModified>2026-12-06T00:00:00.000Z</LastModified></Version>
<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>
<DeleteMarker><Key>a</Key><VersionId>BBB</VersionId></DeleteMarker>
<Version><Key>a</Key><VersionId>AAA</VersionId><RetainUntilDate>2030-01-02T03:04:05.000Z</RetainUntilDate></Version>
<Owner><ID>xyz</ID></Owner><RequestId>R1</RequestId></ListVersionsResult>`
	hdr := http.Header{"X-Amz-Version-Id": {"BBB"}, "Last-Modified": {"Sun, 06 Dec 2026 00:00:00 GMT"}, "Content-Type": {"application/xml"}}
	a := rc.normalise(step{Method: http.MethodGet}, rawAnswer{Status: 200, Header: hdr, Body: []byte(body)})
	want := []string{
		`ListVersionsResult/CommonPrefixes[000]/Prefix=d/`,
		`ListVersionsResult/DeleteMarker[001]/Key=a`,
		`ListVersionsResult/DeleteMarker[001]/VersionId={v1}`,
		`ListVersionsResult/Name={bucket}`,
		`ListVersionsResult/NextKeyMarker=k\x01`,
		`ListVersionsResult/Owner/ID={owner1}`,
		`ListVersionsResult/Version[000]/Key=a`,
		`ListVersionsResult/Version[000]/LastModified={date}`,
		`ListVersionsResult/Version[000]/VersionId={v2}`,
		`ListVersionsResult/Version[002]/Key=a`,
		`ListVersionsResult/Version[002]/RetainUntilDate={gov}`,
		`ListVersionsResult/Version[002]/VersionId={v2}`,
	}
	if got := strings.Join(a.Body, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("body:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// Headers are normalised before the body: BBB is met first.
	if a.Fields["header:X-Amz-Version-Id"] != "{v1}" || a.Fields["header:Last-Modified"] != "present" || a.Fields["status"] != "200" {
		t.Errorf("fields: %v", a.Fields)
	}
	e := rc.normalise(step{Method: http.MethodGet}, rawAnswer{Status: 404, Header: http.Header{},
		Body: []byte(`<Error><Code>NoSuchKey</Code><Message>gone</Message><RequestId>x</RequestId></Error>`)})
	if e.Fields["code"] != "NoSuchKey" || len(e.Body) != 0 {
		t.Errorf("error answer: %+v", e)
	}
	if d := diffLines([]string{"a=1", "b=2"}, []string{"a=1", "b=3"}); !strings.Contains(d, "- b=2") || !strings.Contains(d, "+ b=3") {
		t.Errorf("diffLines: %q", d)
	}
	if got := sortQuery("http://x/done?x=1&bucket=b&etag=e"); got != "http://x/done?bucket=b&etag=e&x=1" {
		t.Errorf("sortQuery: %q", got)
	}
}
