package config

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/dgp-proxy/dgp/internal/configdb"
)

func (c *Config) validateSync(v *collector) {
	a := &c.Advanced
	if a.ConfigSyncBucket != "" {
		if problem := bucketNameProblem(a.ConfigSyncBucket); problem != "" {
			v.add("advanced.config_sync_bucket", problem)
		}
	}
	switch key := a.ConfigSyncObjectKey; {
	case key == "":
		v.add("advanced.config_sync_object_key", "must not be empty")
	case strings.HasPrefix(key, "/"):
		v.add("advanced.config_sync_object_key", "must not start with '/'")
	case len(key) > 1024:
		v.add("advanced.config_sync_object_key", "is longer than 1024 bytes")
	}
	if d := a.ConfigSyncPollInterval; d < 0 || (d > 0 && d < time.Second) {
		v.add("advanced.config_sync_poll_interval", "must be 0 (no poll) or at least 1s")
	}
	if oneOf(v, "advanced.config_sync_role", string(a.ConfigSyncRole), string(SyncRoleWriter), string(SyncRoleReader)) &&
		a.ConfigSyncRole == SyncRoleReader && a.ConfigSyncBucket == "" {
		v.add("advanced.config_sync_role", "reader needs advanced.config_sync_bucket")
	}
	if a.ConfigSyncWriterURL != "" {
		checkURL(v, "advanced.config_sync_writer_url", a.ConfigSyncWriterURL, "http", "https")
	}
	if a.AdvertiseURL != "" {
		checkURL(v, "advanced.advertise_url", a.AdvertiseURL, "http", "https")
	}
	if w := a.ConfigSyncWriteSchema; w < 0 || w > configdb.CurrentSchema {
		v.add("advanced.config_sync_write_schema", fmt.Sprintf("must be 0 (keep the sync bucket's schema) or %d to %d (the schemas this binary writes)",
			configdb.MinWriteSchema, configdb.CurrentSchema))
	}

	s3 := &a.ConfigSyncS3
	if s3.Endpoint != "" {
		checkURL(v, "advanced.config_sync_s3.endpoint", s3.Endpoint, "http", "https")
	}
	checkS3Keys(v, "advanced.config_sync_s3.", s3.AccessKeyID, s3.SecretAccessKey)

	n := &a.ConfigSyncNATS
	const np = "advanced.config_sync_nats."
	if n.URL != "" {
		for u := range strings.SplitSeq(n.URL, ",") {
			checkURL(v, np+"url", strings.TrimSpace(u), "nats", "tls", "ws", "wss")
		}
	}
	if problem := subjectProblem(n.Subject); problem != "" {
		v.add(np+"subject", problem)
	}
	if n.Stream != "" && strings.ContainsFunc(n.Stream, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(".*>/\\", r)
	}) {
		v.add(np+"stream", "must not contain whitespace or any of . * > / \\")
	}
	var methods []string
	if n.Token != "" {
		methods = append(methods, np+"token")
	}
	if n.User != "" || n.Password != "" {
		methods = append(methods, np+"user/password")
		pair(v, np+"user", n.User, np+"password", n.Password)
	}
	if n.Credentials != "" {
		methods = append(methods, np+"credentials")
	}
	if len(methods) > 1 {
		v.add(np+"token", "use one way to authenticate: "+strings.Join(methods, ", "))
	}
	pair(v, np+"tls.cert_file", n.TLS.CertFile, np+"tls.key_file", n.TLS.KeyFile)

	q := &a.ConfigSyncSQS
	if q.QueueURL != "" {
		checkURL(v, "advanced.config_sync_sqs.queue_url", q.QueueURL, "https", "http")
	}
	if q.Endpoint != "" {
		checkURL(v, "advanced.config_sync_sqs.endpoint", q.Endpoint, "https", "http")
	}
}

// subjectProblem describes why s is not a NATS subject, or returns "".
func subjectProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return "must not contain whitespace"
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" {
			return fmt.Sprintf("%q has an empty token (leading, trailing or double '.')", s)
		}
	}
	return ""
}

// warnings lists settings that are accepted but have no effect.
func (c *Config) warnings() []string {
	var out []string
	warn := func(path, msg string) {
		if env := c.origin[path]; env != "" {
			path += " (" + env + ")"
		}
		out = append(out, path+": "+msg)
	}
	a := &c.Advanced
	if a.ConfigSyncBucket == "" {
		for _, k := range []struct {
			path string
			set  bool
		}{
			{"advanced.config_sync_writer_url", a.ConfigSyncWriterURL != ""},
			{"advanced.config_sync_s3", a.ConfigSyncS3 != (S3Settings{})},
			{"advanced.config_sync_nats.url", a.ConfigSyncNATS.URL != ""},
			{"advanced.config_sync_sqs.queue_url", a.ConfigSyncSQS.QueueURL != ""},
		} {
			if k.set {
				warn(k.path, "ignored: advanced.config_sync_bucket is not set")
			}
		}
	} else if a.ConfigSyncPollInterval == 0 && a.ConfigSyncNATS.URL == "" && a.ConfigSyncSQS.QueueURL == "" {
		warn("advanced.config_sync_poll_interval", "0 with no event source: instances pull only at startup and on sync-now")
	}
	if a.ConfigSyncWriteSchema != 0 && a.ConfigSyncRole == SyncRoleReader {
		warn("advanced.config_sync_write_schema", "only used by writers (a reader never publishes)")
	}
	if a.ConfigSyncWriterURL != "" && a.ConfigSyncRole == SyncRoleWriter {
		warn("advanced.config_sync_writer_url", "only used by readers (advanced.config_sync_role: reader)")
	}
	if c.Access.IAMAllowEmpty && c.Access.IAMMode != IAMModeDeclarative {
		warn("access.iam_allow_empty", "only used with access.iam_mode: declarative")
	}
	return append(out, c.jobWarnings()...)
}
