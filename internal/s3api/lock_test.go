package s3api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestObjectLock(t *testing.T) {
	lockScenario(t, newTestEnv(t, false), "locked", "unlocked")
}

// lockScenario runs object lock calls through dgp on two new buckets, one
// with object lock (on the directory backend, or passed through to an S3
// backend); both answer as AWS S3 does.
func lockScenario(t *testing.T, e *testEnv, locked, unlocked string) {
	// wormCode is the error of deleting a protected version: AWS says
	// AccessDenied; MinIO's InvalidRequest is translated to it by s3backend.
	const wormCode = "AccessDenied"
	c := e.root()
	ctx := context.Background()
	b := aws.String(locked)
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ObjectLockEnabledForBucket: aws.Bool(true)})
	must(t, err, "create lock bucket")
	setupBucket(t, c, unlocked)

	// Bucket configuration.
	lc, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	must(t, err, "get lock config")
	if lc.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled || lc.ObjectLockConfiguration.Rule != nil {
		t.Fatalf("lock config %+v", lc.ObjectLockConfiguration)
	}
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	must(t, err, "versioning of a lock bucket")
	if v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("lock bucket versioning %q", v.Status)
	}
	_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(unlocked)})
	wantCode(t, err, "ObjectLockConfigurationNotFoundError", "lock config of a plain bucket")
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
	}})
	must(t, err, "put lock config")
	lc, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	must(t, err, "get lock config")
	if r := lc.ObjectLockConfiguration.Rule; r == nil || r.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance || aws.ToInt32(r.DefaultRetention.Days) != 1 {
		t.Fatalf("lock rule %+v", lc.ObjectLockConfiguration.Rule)
	}
	for _, tc := range []struct{ body, code string }{
		{`<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>`, "MalformedXML"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, "MalformedXML"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>SOFT</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, "MalformedXML"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>`, "InvalidArgument"},
		{`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>101</Years></DefaultRetention></Rule></ObjectLockConfiguration>`, "InvalidArgument"},
	} {
		status, body, _ := e.do("PUT", "/"+locked+"?object-lock", []byte(tc.body), md5Header([]byte(tc.body)))
		if status != 400 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("lock config %s: %d %s, want %s", tc.body, status, body, tc.code)
		}
	}
	cfg := []byte(`<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`)
	status, body, _ := e.do("PUT", "/"+locked+"?object-lock", cfg, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidRequest</Code>") {
		t.Fatalf("lock config without Content-MD5: %d %s", status, body)
	}
	_, err = e.client(writerAK, writerSK, false).PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	wantCode(t, err, "AccessDenied", "writer configures lock")

	// Lock headers on PutObject, returned on GET/HEAD.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("doc"), Body: strings.NewReader("locked"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	must(t, err, "put with lock")
	vid := aws.ToString(put.VersionId)
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("doc")})
	must(t, err, "head locked")
	if h.ObjectLockMode != types.ObjectLockModeGovernance || !aws.ToTime(h.ObjectLockRetainUntilDate).Equal(until) ||
		h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn || aws.ToString(h.VersionId) != vid {
		t.Fatalf("head lock headers: mode %q until %v hold %q version %q", h.ObjectLockMode, aws.ToTime(h.ObjectLockRetainUntilDate), h.ObjectLockLegalHoldStatus, aws.ToString(h.VersionId))
	}
	_, g := getString(t, c, locked, "doc", "")
	if g.ObjectLockMode != types.ObjectLockModeGovernance || g.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("get lock headers: %q %q", g.ObjectLockMode, g.ObjectLockLegalHoldStatus)
	}

	// Lock headers on CreateMultipartUpload and CopyObject.
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	must(t, err, "create multipart with a legal hold")
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("p")})
	must(t, err, "upload part")
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	must(t, err, "complete")
	if h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("mp")}); err != nil || h.ObjectLockLegalHoldStatus != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("multipart legal hold: %v %v", err, h)
	}
	_, err = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("mp"), VersionId: done.VersionId,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	must(t, err, "lift the multipart legal hold")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copied"), CopySource: aws.String(locked + "/mp"),
		ObjectLockMode: types.ObjectLockModeGovernance, ObjectLockRetainUntilDate: aws.Time(until)})
	must(t, err, "copy with retention")
	if h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copied")}); err != nil || h.ObjectLockMode != types.ObjectLockModeGovernance {
		t.Fatalf("copy retention: %v %v", err, h)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copied2"), CopySource: aws.String(locked + "/mp"),
		ObjectLockMode: types.ObjectLockModeGovernance})
	wantCode(t, err, "InvalidArgument", "copy with a mode and no date")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp2"), ObjectLockLegalHoldStatus: "MAYBE"})
	wantCode(t, err, "InvalidArgument", "multipart with a bad legal hold")

	// Invalid lock headers.
	future := until.Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		code string
	}{
		{"mode without date", map[string]string{"X-Amz-Object-Lock-Mode": "GOVERNANCE"}, "InvalidArgument"},
		{"date without mode", map[string]string{"X-Amz-Object-Lock-Retain-Until-Date": future}, "InvalidArgument"},
		{"bad mode", map[string]string{"X-Amz-Object-Lock-Mode": "SOFT", "X-Amz-Object-Lock-Retain-Until-Date": future}, "InvalidArgument"},
		{"past date", map[string]string{"X-Amz-Object-Lock-Mode": "COMPLIANCE", "X-Amz-Object-Lock-Retain-Until-Date": "2001-01-01T00:00:00Z"}, "InvalidArgument"},
		{"bad date", map[string]string{"X-Amz-Object-Lock-Mode": "COMPLIANCE", "X-Amz-Object-Lock-Retain-Until-Date": "tomorrow"}, "InvalidArgument"},
		{"bad hold", map[string]string{"X-Amz-Object-Lock-Legal-Hold": "YES"}, "InvalidArgument"},
	} {
		hdr := md5Header([]byte("x"))
		for k, v := range tc.hdr {
			hdr.Set(k, v)
		}
		status, body, _ := e.do("PUT", "/"+locked+"/bad", []byte("x"), hdr)
		if status != 400 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}
	status, body, _ = e.do("PUT", "/"+locked+"/bad", []byte("x"), http.Header{"X-Amz-Object-Lock-Legal-Hold": {"ON"}})
	if status != 400 || !strings.Contains(body, "<Code>InvalidRequest</Code>") || !strings.Contains(body, "Content-MD5") {
		t.Fatalf("lock headers without Content-MD5: %d %s", status, body)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(unlocked), Key: aws.String("x"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOn})
	wantCode(t, err, "InvalidRequest", "lock headers on a plain bucket")

	// Retention and legal hold calls.
	ret, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid)})
	must(t, err, "get retention")
	if ret.Retention.Mode != types.ObjectLockRetentionModeGovernance || !aws.ToTime(ret.Retention.RetainUntilDate).Equal(until) {
		t.Fatalf("retention %+v", ret.Retention)
	}
	lh, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: b, Key: aws.String("doc")})
	must(t, err, "get legal hold")
	if lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold %q", lh.LegalHold.Status)
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid), BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, err, wormCode, "delete a version under legal hold")
	_, err = c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("doc"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	must(t, err, "legal hold off")
	later := until.Add(time.Hour)
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(later)}})
	must(t, err, "extend retention")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid)})
	wantCode(t, err, wormCode, "delete a version under governance")
	w := e.client(writerAK, writerSK, false)
	_, err = w.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid), BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, err, "AccessDenied", "bypass without admin")
	_, err = w.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid), BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{}})
	wantCode(t, err, "AccessDenied", "retention bypass without admin")
	_, err = w.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, BypassGovernanceRetention: aws.Bool(true),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("doc"), VersionId: aws.String(vid)}}}})
	wantCode(t, err, "AccessDenied", "delete objects bypass without admin")
	dres, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b,
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("doc"), VersionId: aws.String(vid)}}}})
	must(t, err, "delete objects of a governed version")
	if len(dres.Deleted) != 0 || len(dres.Errors) != 1 || aws.ToString(dres.Errors[0].VersionId) != vid ||
		aws.ToString(dres.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("delete objects of a governed version: %+v %+v", dres.Deleted, dres.Errors)
	}
	dm, err := w.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc")})
	must(t, err, "a delete marker is always allowed")
	if !aws.ToBool(dm.DeleteMarker) {
		t.Fatal("no delete marker")
	}
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc"), VersionId: aws.String(vid), BypassGovernanceRetention: aws.Bool(true)})
	must(t, err, "admin bypasses governance")
	if aws.ToString(del.VersionId) != vid {
		t.Fatalf("deleted version %q, want %q", aws.ToString(del.VersionId), vid)
	}

	// A version without retention; bad bodies; missing Content-MD5.
	put2, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("free"), Body: strings.NewReader("x"),
		ObjectLockLegalHoldStatus: types.ObjectLockLegalHoldStatusOff})
	must(t, err, "put with hold off")
	if aws.ToString(put2.VersionId) == "" {
		t.Fatal("put to a lock bucket has no version id")
	}
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b,
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	must(t, err, "remove default retention")
	put3 := putString(t, c, locked, "free2", "y")
	_, err = c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: b, Key: aws.String("free2"), VersionId: put3.VersionId})
	wantCode(t, err, "NoSuchObjectLockConfiguration", "retention of an unretained version")
	for _, tc := range []struct{ path, body, code string }{
		{"/" + locked + "/free2?retention", `<Retention><Mode>GOVERNANCE</Mode></Retention>`, "MalformedXML"},
		{"/" + locked + "/free2?retention", `<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2001-01-01T00:00:00Z</RetainUntilDate></Retention>`, "InvalidArgument"},
		{"/" + locked + "/free2?legal-hold", `<LegalHold><Status>MAYBE</Status></LegalHold>`, "MalformedXML"},
	} {
		status, body, _ := e.do("PUT", tc.path, []byte(tc.body), md5Header([]byte(tc.body)))
		if status != 400 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("%s %s: %d %s, want %s", tc.path, tc.body, status, body, tc.code)
		}
	}
	hold := []byte(`<LegalHold><Status>ON</Status></LegalHold>`)
	status, body, _ = e.do("PUT", "/"+locked+"/free2?legal-hold", hold, nil)
	if status != 400 || !strings.Contains(body, "<Code>InvalidRequest</Code>") {
		t.Fatalf("legal hold without Content-MD5: %d %s", status, body)
	}
	status, body, _ = e.do("PUT", "/"+locked+"/free2?legal-hold", hold, md5Header(hold))
	if status != 200 {
		t.Fatalf("legal hold with Content-MD5: %d %s", status, body)
	}
	_, err = e.client(readerAK, readerSK, false).PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("free2"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	wantCode(t, err, "AccessDenied", "reader sets a legal hold")
}
