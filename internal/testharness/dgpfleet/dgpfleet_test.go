package dgpfleet

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
)

func TestStartNServesAndCloses(t *testing.T) {
	dir := t.TempDir()
	f, err := StartN(context.Background(), 2, 2, func(i int) Spec {
		return Spec{DataDir: filepath.Join(dir, strconv.Itoa(i)), NodeID: "node-" + strconv.Itoa(i)}
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	for _, in := range f {
		if got := in.Root().AccessKeyID; got != DefaultAccessKeyID {
			t.Errorf("root key %q, want %q", got, DefaultAccessKeyID)
		}
		resp, err := http.Get(in.URL() + "/_/metrics")
		if err != nil {
			t.Fatalf("GET metrics: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s metrics: %s", in.URL(), resp.Status)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := f[0].Stop(context.Background()); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestStartRejectsBadSpec(t *testing.T) {
	if _, err := Start(context.Background(), Spec{}); err == nil {
		t.Fatal("no data dir: want an error")
	}
	if _, err := StartN(context.Background(), 2, 1, func(int) Spec { return Spec{} }); err == nil {
		t.Fatal("StartN with bad specs: want an error")
	}
}
