//go:build integration

package fleetstatus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dgp-proxy/dgp/internal/fleetstatus"
	"github.com/dgp-proxy/dgp/internal/testharness/adminclient"
	"github.com/dgp-proxy/dgp/internal/testharness/syncfleet"
	"github.com/dgp-proxy/dgp/internal/testutil"
)

const wait = time.Minute

// A writer and two readers on one sync bucket (MinIO, events over NATS),
// each advertising its URL: after a user is created on the writer, the
// fleet view of every instance shows all three at the bucket's new
// generation (neither behind nor stale); a sync-now for a reader sent to
// the writer is proxied to the reader with the caller's session.
func TestFleetViewOfThreeInstances(t *testing.T) {
	nodes := []string{"fleet-a", "fleet-b", "fleet-c"}
	fl := syncfleet.Start(t, syncfleet.Options{Nodes: nodes, BucketPrefix: "fleet", NATS: true, Advertise: true, Wait: wait, LogTail: 15})
	f, bucket := fl.Instances, fl.Bucket
	c := newAdmin(t)
	c.Login(f[0].URL())

	// Every instance shows in every instance's view, connected to NATS.
	for _, in := range f {
		testutil.RetryUntil(t, wait, func() error {
			v, err := c.view(in.URL())
			if err != nil {
				return err
			}
			return allAt(v, nodes, v.BucketGeneration, true)
		})
	}

	// A change on the writer: every view shows every instance at the new
	// generation.
	before, err := c.view(f[0].URL())
	testutil.Must(t, err, "view")
	c.Must(http.StatusCreated, http.MethodPost, f[0].URL()+"/_/api/admin/users",
		`{"name":"fleet-view-user","permissions":[{"effect":"Allow","actions":["list"],"resources":["*"]}]}`, nil)
	for _, in := range f {
		testutil.RetryUntil(t, wait, func() error {
			v, err := c.view(in.URL())
			if err != nil {
				return err
			}
			if v.BucketGeneration <= before.BucketGeneration {
				return fmt.Errorf("%s: bucket generation %d, want > %d", in.URL(), v.BucketGeneration, before.BucketGeneration)
			}
			return allAt(v, nodes, v.BucketGeneration, false)
		})
	}

	// The status objects are in the sync bucket, where the docs say.
	for _, n := range nodes {
		_, err := fl.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(fleetstatus.Key(n))})
		testutil.Must(t, err, "head status object of %s", n)
	}

	// sync-now for fleet-c, asked of fleet-a: fleet-a proxies it to
	// fleet-c's advertised URL, and fleet-c's next status says so (its
	// last pull so far came from the event).
	v, err := c.view(f[0].URL())
	testutil.Must(t, err, "view")
	if in := v.Instances[2]; in.PullSource != "event" {
		t.Fatalf("fleet-c's last pull came from %q before sync-now, want event", in.PullSource)
	}
	resp := c.Must(http.StatusOK, http.MethodPost, f[0].URL()+"/_/api/admin/fleet/fleet-c/sync-now", nil, nil)
	var pull struct {
		Status     string `json:"status"`
		Generation uint64 `json:"generation"`
	}
	testutil.Must(t, json.Unmarshal(resp, &pull), "decode %s", resp)
	if pull.Status != "current" && pull.Status != "updated" {
		t.Errorf("proxied sync-now answered %s", resp)
	}
	testutil.RetryUntil(t, wait, func() error {
		v, err := c.view(f[1].URL())
		if err != nil {
			return err
		}
		for _, in := range v.Instances {
			if in.Node == "fleet-c" && in.PullSource != "sync-now" {
				return fmt.Errorf("fleet-c's last pull came from %q, want sync-now", in.PullSource)
			}
		}
		return nil
	})
	// The same for the node that answers itself.
	c.Must(http.StatusOK, http.MethodPost, f[0].URL()+"/_/api/admin/fleet/fleet-a/sync-now", nil, nil)
	c.Must(http.StatusNotFound, http.MethodPost, f[0].URL()+"/_/api/admin/fleet/nobody/sync-now", nil, nil)
}

// allAt checks that v lists exactly nodes, all verified, none stale,
// behind or below gen; with sources, each connected to NATS.
func allAt(v fleetstatus.View, nodes []string, gen uint64, sources bool) error {
	if len(v.Instances) != len(nodes) {
		return fmt.Errorf("%d instances, want %d: %+v", len(v.Instances), len(nodes), v.Instances)
	}
	for i, in := range v.Instances {
		switch {
		case in.Node != nodes[i]:
			return fmt.Errorf("instance %d is %q, want %q", i, in.Node, nodes[i])
		case !in.Verified || in.Stale || in.Behind || in.Generation != gen:
			return fmt.Errorf("%s: verified %v stale %v behind %v generation %d (bucket %d)",
				in.Node, in.Verified, in.Stale, in.Behind, in.Generation, gen)
		case !strings.HasPrefix(in.AdminURL, "http://127.0.0.1:"):
			return fmt.Errorf("%s: admin_url %q", in.Node, in.AdminURL)
		case sources && (len(in.EventSources) != 1 || !in.EventSources[0].Connected):
			return fmt.Errorf("%s: event sources %+v", in.Node, in.EventSources)
		}
	}
	return nil
}

// admin is an admin API client whose cookie jar holds one session for
// every instance (all on 127.0.0.1; sessions are valid fleet-wide).
type admin struct{ *adminclient.Client }

func newAdmin(t *testing.T) *admin { return &admin{adminclient.New(t, "", wait)} }

func (a *admin) view(base string) (fleetstatus.View, error) {
	var v fleetstatus.View
	status, b, err := a.Do(http.MethodGet, base+"/_/api/admin/fleet", nil)
	if err != nil {
		return v, err
	}
	if status != http.StatusOK {
		return v, fmt.Errorf("GET fleet on %s: %d %s", base, status, b)
	}
	return v, json.Unmarshal(b, &v)
}
