package testharness

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/sirupsen/logrus"
)

// GoawsOptions say how to run goaws.
type GoawsOptions struct {
	// VisibilityTimeout is the queues' default, in seconds (30 when 0).
	VisibilityTimeout int
	// RequeueEvery, when not 0, makes received but undeleted messages
	// visible again after their timeout, as SQS does, checking this often.
	RequeueEvery time.Duration
}

// Goaws is goaws (an SNS and SQS emulator) served on 127.0.0.1. goaws keeps
// its state in package variables: run one per process.
type Goaws struct {
	Endpoint string       // http://127.0.0.1:port
	Handler  http.Handler // goaws's router, to serve it on another listener too
	srv      *http.Server
	quit     chan bool
	wg       sync.WaitGroup
}

// StartGoaws serves goaws until Close. Its logs are discarded.
func StartGoaws(o GoawsOptions) (*Goaws, error) {
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = 30
	}
	logrus.SetOutput(io.Discard) // goaws logs every call
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	// Queue URLs are built from this: http://127.0.0.1:<port>/<account>/<name>.
	models.CurrentEnvironment = models.Environment{
		Host: "127.0.0.1", Port: port, AccountID: "100010001000",
		QueueAttributeDefaults: models.EnvQueueAttributes{VisibilityTimeout: o.VisibilityTimeout, MaximumMessageSize: 262144},
	}
	h := router.New()
	g := &Goaws{Endpoint: "http://" + ln.Addr().String(), Handler: h, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	g.wg.Go(func() { _ = g.srv.Serve(ln) })
	if o.RequeueEvery > 0 {
		g.quit = make(chan bool)
		g.wg.Go(func() { gosqs.PeriodicTasks(o.RequeueEvery, g.quit) })
	}
	return g, nil
}

// Close stops goaws and waits for its goroutines.
func (g *Goaws) Close() {
	_ = g.srv.Close()
	if g.quit != nil {
		g.quit <- true
	}
	g.wg.Wait()
}

// SNSBridge returns a handler for MinIO's webhook target that publishes each
// event to the SNS topic as AWS S3 does: the message is {"Records": [...]},
// subject "Amazon S3 Notification". MinIO has no SQS target; this is how a
// test drives the SQS path with real MinIO events. seen, when not nil, is
// called with each event body first; badEvent, when not nil, with each POST
// that is not an event (answered 400). A failed publish answers 502.
func SNSBridge(c *sns.Client, topicARN string, seen func([]byte), badEvent func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Method != http.MethodPost || len(body) == 0 {
			w.WriteHeader(http.StatusOK) // MinIO's reachability checks
			return
		}
		if seen != nil {
			seen(body)
		}
		var ev struct {
			Records json.RawMessage `json:"Records"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || len(ev.Records) == 0 {
			if badEvent != nil {
				badEvent(fmt.Errorf("webhook body %q: %v", body, err))
			}
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		msg, _ := json.Marshal(map[string]json.RawMessage{"Records": ev.Records})
		if _, err := c.Publish(r.Context(), &sns.PublishInput{
			TopicArn: aws.String(topicARN), Subject: aws.String("Amazon S3 Notification"), Message: aws.String(string(msg)),
		}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// Serve serves h on a free 127.0.0.1 port and returns the base URL and a
// function that stops the server and waits for it.
func Serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) }) // returns when stop closes the server
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(); wg.Wait() }, nil
}

func splitHostPort(addr string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		return "", "", err
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", "", fmt.Errorf("port of %s: %w", addr, err)
	}
	return host, port, nil
}
