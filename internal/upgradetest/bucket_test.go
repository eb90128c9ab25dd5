//go:build integration

package upgradetest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dgp-proxy/dgp/internal/config"
	"github.com/dgp-proxy/dgp/internal/configdb"
	"github.com/dgp-proxy/dgp/internal/notifysetup"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

// syncKey is the config DB's object key (the default).
const syncKey = config.DefaultConfigSyncObjectKey

// syncBucket is the fleet's sync bucket on the harness's MinIO: fresh for
// the test, with versioning enabled so that every DB ever written can be
// read back, and the notification rule `dgp sync setup-notifications`
// adds (MinIO -> NATS).
type syncBucket struct {
	name  string
	minio testutil.MinIO
	s3    *s3.Client
}

func newSyncBucket(t *testing.T, m testutil.MinIO) *syncBucket {
	t.Helper()
	b := &syncBucket{name: testutil.UniqueName("upgrade"), minio: m}
	b.s3 = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
	ctx := context.Background()
	_, err := b.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name)})
	testutil.Must(t, err, "create sync bucket")
	t.Cleanup(func() { b.remove(t) })
	_, err = b.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(b.name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	testutil.Must(t, err, "enable versioning on the sync bucket")

	target, err := notifysetup.NATSTarget(m.NATSARN)
	testutil.Must(t, err, "nats target")
	nc, err := notifysetup.NewClient(ctx, config.S3Settings{Endpoint: m.Endpoint, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey, ForcePathStyle: true})
	testutil.Must(t, err, "notification client")
	rule := notifysetup.Rule{Target: target, Key: syncKey}
	testutil.RetryUntil(t, convergeFor, func() error { // Ensure is idempotent
		_, err := notifysetup.Ensure(ctx, nc, b.name, rule, false)
		return err
	})
	return b
}

// env is the fleet's settings for reaching the sync bucket and its events.
func (b *syncBucket) env(natsURL, natsSubject string) []string {
	return []string{
		"DGP_BOOTSTRAP_PASSWORD=" + bootstrapPassword,
		"DGP_ACCESS_KEY_ID=" + rootAccessKey,
		"DGP_SECRET_ACCESS_KEY=" + rootSecretKey,
		"DGP_LOG_FORMAT=json",
		"DGP_LOGIN_RATE_LIMIT=0",
		"DGP_SHUTDOWN_TIMEOUT=20s",
		"DGP_CONFIG_SYNC_BUCKET=" + b.name,
		"DGP_CONFIG_SYNC_S3_ENDPOINT=" + b.minio.Endpoint,
		"DGP_CONFIG_SYNC_S3_REGION=us-east-1",
		"DGP_CONFIG_SYNC_S3_ACCESS_KEY_ID=" + b.minio.AccessKey,
		"DGP_CONFIG_SYNC_S3_SECRET_ACCESS_KEY=" + b.minio.SecretKey,
		"DGP_CONFIG_SYNC_S3_FORCE_PATH_STYLE=true",
		"DGP_CONFIG_SYNC_NATS_URL=" + natsURL,
		"DGP_CONFIG_SYNC_NATS_SUBJECT=" + natsSubject,
		// The safety net behind the events: an instance restarted while an
		// event was in flight still catches up within seconds.
		"DGP_CONFIG_SYNC_POLL_INTERVAL=3s",
	}
}

// remove deletes every version of every object, then the bucket.
func (b *syncBucket) remove(t *testing.T) {
	ctx := context.Background()
	p := s3.NewListObjectVersionsPaginator(b.s3, &s3.ListObjectVersionsInput{Bucket: aws.String(b.name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("clean up sync bucket %s: %v", b.name, err)
			return
		}
		for _, v := range page.Versions {
			_, _ = b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: v.Key, VersionId: v.VersionId})
		}
		for _, v := range page.DeleteMarkers {
			_, _ = b.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: v.Key, VersionId: v.VersionId})
		}
	}
	if _, err := b.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b.name)}); err != nil {
		t.Logf("delete sync bucket %s: %v", b.name, err)
	}
}

// dbVersion is one version of the sync object, read back from the bucket.
type dbVersion struct {
	id       string
	modified time.Time
	hdr      configdb.Header
}

func (v dbVersion) String() string {
	return fmt.Sprintf("version %s (generation %d, schema %d, min reader schema %d, written by %s at %s)",
		v.id, v.hdr.Generation, v.hdr.Schema, v.hdr.MinReaderSchema, v.hdr.WriterNode, v.hdr.SealedAt.Format(time.RFC3339Nano))
}

// history lists every version of the sync object, oldest first, with its
// clear header (configdb.ReadHeader). A delete marker fails the test: no
// instance ever deletes the DB.
func (b *syncBucket) history(t *testing.T) []dbVersion {
	t.Helper()
	ctx := context.Background()
	var vs []dbVersion
	p := s3.NewListObjectVersionsPaginator(b.s3, &s3.ListObjectVersionsInput{Bucket: aws.String(b.name), Prefix: aws.String(syncKey)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		testutil.Must(t, err, "list versions of %s", syncKey)
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == syncKey {
				t.Errorf("the sync object has a delete marker (version %s): something deleted the config DB", aws.ToString(m.VersionId))
			}
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) != syncKey {
				continue
			}
			vs = append(vs, dbVersion{id: aws.ToString(v.VersionId), modified: aws.ToTime(v.LastModified)})
		}
	}
	slices.Reverse(vs) // S3 lists the versions of a key newest first
	for i := range vs {
		out, err := b.s3.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(b.name), Key: aws.String(syncKey), VersionId: aws.String(vs[i].id),
			Range: aws.String("bytes=0-1023"), // the header is at most ~140 bytes
		})
		testutil.Must(t, err, "get version %s", vs[i].id)
		head, err := io.ReadAll(out.Body)
		out.Body.Close()
		testutil.Must(t, err, "read version %s", vs[i].id)
		vs[i].hdr, err = configdb.ReadHeader(head)
		testutil.Must(t, err, "header of version %s", vs[i].id)
	}
	return vs
}

// checkHistory asserts that along the version history the schema never
// decreases (nothing was written over a newer schema) and the generation
// always increases (every write replaced the DB it read: compare-and-swap).
func checkHistory(t *testing.T, vs []dbVersion) {
	t.Helper()
	if len(vs) == 0 {
		t.Fatal("the sync bucket holds no version of the config DB")
	}
	for i := 1; i < len(vs); i++ {
		prev, cur := vs[i-1], vs[i]
		if cur.hdr.Schema < prev.hdr.Schema {
			t.Errorf("written over a newer schema: %s follows %s", cur, prev)
		}
		if cur.hdr.Generation <= prev.hdr.Generation {
			t.Errorf("generation did not increase: %s follows %s", cur, prev)
		}
	}
}

// schemas summarises a history: "schema 1 x 180 (node-0 61, ...), schema 2 x 3 (...)".
func schemas(vs []dbVersion) string {
	type key struct {
		schema uint16
		writer string
	}
	count := map[key]int{}
	var order []key
	for _, v := range vs {
		k := key{v.hdr.Schema, v.hdr.WriterNode}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	slices.SortFunc(order, func(a, b key) int {
		if a.schema != b.schema {
			return int(a.schema) - int(b.schema)
		}
		return strings.Compare(a.writer, b.writer)
	})
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("schema %d by %s: %d", k.schema, k.writer, count[k]))
	}
	return strings.Join(parts, ", ")
}

// latest reads the current sync object and opens it with the bootstrap
// password, as an instance does.
func (b *syncBucket) latest(t *testing.T) (*configdb.State, configdb.Header, string) {
	t.Helper()
	out, err := b.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(syncKey)})
	testutil.Must(t, err, "get %s", syncKey)
	body, err := io.ReadAll(out.Body)
	out.Body.Close()
	testutil.Must(t, err, "read %s", syncKey)
	st, hdr, err := configdb.Open(body, nil, []byte(bootstrapPassword))
	testutil.Must(t, err, "open the sync bucket's config DB")
	return st, hdr, aws.ToString(out.ETag)
}
