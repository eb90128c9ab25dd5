package notify_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/dgp-proxy/dgp/internal/notify"
	"github.com/dgp-proxy/dgp/internal/notify/notifytest"
)

func TestDispatcher(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := notify.NewMetrics(reg)
	sink := &notifytest.Sink{}
	now := time.Date(2026, 11, 25, 10, 0, 1, 0, time.UTC)
	d := notify.NewDispatcher("sqs", notify.Filter{Bucket: "dgp-iam-sync", Key: ".deltaglider/config.db"},
		sink, zerolog.Nop(), m, func() time.Time { return now })

	assertMetric(t, reg, "dgp_config_sync_event_source_connected", `dgp_config_sync_event_source_connected{source="sqs"} 0`)
	assertMetric(t, reg, "dgp_config_sync_event_messages_total", `dgp_config_sync_event_messages_total{outcome="applied",source="sqs"} 0
dgp_config_sync_event_messages_total{outcome="irrelevant",source="sqs"} 0
dgp_config_sync_event_messages_total{outcome="malformed",source="sqs"} 0
dgp_config_sync_event_messages_total{outcome="test",source="sqs"} 0`)
	d.SetConnected(true)

	bodies := []struct {
		body string
		want notify.Outcome
	}{
		{`{"Records":[{"eventName":"ObjectCreated:Put","eventTime":"2026-11-25T10:00:00Z","s3":{"bucket":{"name":"dgp-iam-sync"},"object":{"key":".deltaglider/config.db","eTag":"\"e1\""}}}]}`, notify.OutcomeApplied},
		{`{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"dgp-iam-sync"},"object":{"key":".deltaglider/config.db"}}}]}`, notify.OutcomeIrrelevant},
		{`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"other"},"object":{"key":".deltaglider/config.db"}}}]}`, notify.OutcomeIrrelevant},
		{`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"dgp-iam-sync"}`, notify.OutcomeTest},
		{`not json`, notify.OutcomeMalformed},
		{``, notify.OutcomeMalformed},
	}
	for _, b := range bodies {
		if got := d.Dispatch([]byte(b.body)); got != b.want {
			t.Errorf("Dispatch(%.40q) = %q, want %q", b.body, got, b.want)
		}
	}

	hints := sink.Hints()
	if len(hints) != 1 || hints[0].ETag != "e1" || sink.Sources()[0] != "sqs" {
		t.Fatalf("sink got %+v from %v, want one hint with ETag e1 from sqs", hints, sink.Sources())
	}

	st := d.Status()
	want := map[string]uint64{"applied": 1, "irrelevant": 2, "test": 1, "malformed": 2}
	for k, v := range want {
		if st.Messages[k] != v {
			t.Errorf("status messages[%s] = %d, want %d", k, st.Messages[k], v)
		}
	}
	if !st.Connected || st.Name != "sqs" || !st.LastMessage.Equal(now) {
		t.Errorf("status = %+v", st)
	}
	assertMetric(t, reg, "dgp_config_sync_event_messages_total", `dgp_config_sync_event_messages_total{outcome="applied",source="sqs"} 1
dgp_config_sync_event_messages_total{outcome="irrelevant",source="sqs"} 2
dgp_config_sync_event_messages_total{outcome="malformed",source="sqs"} 2
dgp_config_sync_event_messages_total{outcome="test",source="sqs"} 1`)
	assertMetric(t, reg, "dgp_config_sync_event_last_message_timestamp_seconds",
		fmt.Sprintf(`dgp_config_sync_event_last_message_timestamp_seconds{source="sqs"} %d`, now.Unix()))

	m.ObserveLag("sqs", 250*time.Millisecond)
	if n, err := promtest.GatherAndCount(reg, "dgp_config_sync_event_lag_seconds"); err != nil || n != 1 {
		t.Errorf("lag histogram series = %d, %v", n, err)
	}
	assertMetric(t, reg, "dgp_config_sync_event_source_connected", `dgp_config_sync_event_source_connected{source="sqs"} 1`)

	d.Failed(errors.New("queue unreachable"), 0, time.Second)
	if st := d.Status(); st.Connected || st.LastError != "queue unreachable" {
		t.Errorf("status after failure = %+v", st)
	}
	assertMetric(t, reg, "dgp_config_sync_event_source_connected", `dgp_config_sync_event_source_connected{source="sqs"} 0`)
	d.SetConnected(true)
	if st := d.Status(); !st.Connected || st.LastError != "" {
		t.Errorf("status after reconnect = %+v", st)
	}

	d.Resync(notify.ReasonReachable)
	d.Stop()
	d.Resync(notify.ReasonReachable)
	if got := d.Dispatch([]byte(bodies[0].body)); got != "" {
		t.Errorf("Dispatch after Stop = %q, want nothing", got)
	}
	if rs := sink.Resyncs(); len(rs) != 1 || rs[0] != (notifytest.Resync{Source: "sqs", Reason: notify.ReasonReachable}) {
		t.Errorf("resyncs = %+v, want exactly one before Stop", rs)
	}
	if len(sink.Hints()) != 1 {
		t.Errorf("hint delivered after Stop")
	}
	if d.Status().Connected {
		t.Error("still connected after Stop")
	}
}

// assertMetric compares the samples of one metric family (HELP and TYPE
// lines are taken from the registry itself).
func assertMetric(t *testing.T, reg *prometheus.Registry, name, samples string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var help, typ string
	for _, mf := range mfs {
		if mf.GetName() == name {
			help, typ = mf.GetHelp(), strings.ToLower(mf.GetType().String())
		}
	}
	exp := "# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n" + samples + "\n"
	if err := promtest.GatherAndCompare(reg, strings.NewReader(exp), name); err != nil {
		t.Error(err)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *notify.Metrics
	m.ObserveLag("nats", time.Second)
	d := notify.NewDispatcher("nats", notify.Filter{}, &notifytest.Sink{}, zerolog.Nop(), nil, nil)
	d.SetConnected(true)
	if got := d.Dispatch([]byte(`{}`)); got != notify.OutcomeMalformed {
		t.Errorf("got %q", got)
	}
}
