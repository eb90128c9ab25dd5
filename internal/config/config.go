// Package config turns the YAML configuration file and the DGP_* environment
// into one validated *Config.
//
// Every key lives in one of three sections (access, storage, advanced) and,
// unless it is a list of objects or a map, can also be set from the
// environment: the variable name is DGP_ followed by the key's path
// upper-cased with '.' replaced by '_', with a leading "access." or
// "advanced." dropped (advanced.config_sync_bucket -> DGP_CONFIG_SYNC_BUCKET,
// storage.s3 -> DGP_STORAGE_S3). The environment beats the file, the file
// beats the defaults of Default. docs/configuration.md lists every key.
package config

import (
	"slices"
	"time"
)

// DefaultFile is the configuration file read when neither an explicit path
// nor DGP_CONFIG is given; it may be absent.
const DefaultFile = "deltaglider_proxy.yaml"

// EnvConfigFile names the environment variable holding the configuration
// file path.
const EnvConfigFile = "DGP_CONFIG"

// Redaction replaces every set secret in a Redacted copy.
const Redaction = "REDACTED"

// DefaultBackendName is the name of the single backend described by
// storage.filesystem, storage.s3 or the embedded default storage.
const DefaultBackendName = "default"

// Default values of the keys that have one.
const (
	DefaultListenAddr             = "0.0.0.0:9000"
	DefaultDataDir                = "./data"
	DefaultSessionTTL             = 4 * time.Hour
	DefaultLoginRateLimit         = 10
	DefaultShutdownTimeout        = 30 * time.Second
	DefaultMaxHeaderBytes         = 64 << 10
	DefaultConfigSyncObjectKey    = ".deltaglider/config.db"
	DefaultConfigSyncPollInterval = 5 * time.Minute
	DefaultConfigSyncNATSSubject  = "dgp.config-sync"
)

// IAMMode says where IAM users and groups come from.
type IAMMode string

// The IAM modes.
const (
	// IAMModeGUI keeps IAM in the config DB, changed through the admin API.
	IAMModeGUI IAMMode = "gui"
	// IAMModeDeclarative takes IAM from access.iam in this file (GitOps).
	IAMModeDeclarative IAMMode = "declarative"
)

// SyncRole says whether an instance may mutate the synced config DB.
type SyncRole string

// The config sync roles.
const (
	// SyncRoleWriter accepts IAM mutations and publishes them.
	SyncRoleWriter SyncRole = "writer"
	// SyncRoleReader refuses IAM mutations and points at the writer.
	SyncRoleReader SyncRole = "reader"
)

// The log levels and formats.
const (
	LogLevelDebug = "debug"
	LogLevelInfo  = "info"
	LogLevelWarn  = "warn"
	LogLevelError = "error"

	LogFormatAuto    = "auto"
	LogFormatJSON    = "json"
	LogFormatConsole = "console"
)

// The backend types.
const (
	BackendFilesystem = "filesystem"
	BackendS3         = "s3"
)

// Config is the whole configuration of one dgp instance.
type Config struct {
	Access   AccessConfig   `yaml:"access"`
	Storage  StorageConfig  `yaml:"storage"`
	Advanced AdvancedConfig `yaml:"advanced"`

	// origin maps a key path to the environment variable that set it, so
	// errors can name it. Nil for a Config built in code.
	origin map[string]string
}

// AccessConfig holds who may use the proxy and its admin surface.
type AccessConfig struct {
	// AccessKeyID and SecretAccessKey are the root S3 credentials (both or neither).
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" dgp:"secret"`
	// IAMMode is gui (IAM in the config DB) or declarative (IAM from IAM below).
	IAMMode IAMMode `yaml:"iam_mode"`
	// IAMAllowEmpty lets declarative mode run with no users at all.
	IAMAllowEmpty bool `yaml:"iam_allow_empty"`
	// BootstrapPassword is the admin password and the config DB key;
	// BootstrapPasswordHash is its bcrypt hash. At most one is set; when
	// neither is, one is generated on first start by someone else.
	BootstrapPassword     string `yaml:"bootstrap_password" dgp:"secret"`
	BootstrapPasswordHash string `yaml:"bootstrap_password_hash" dgp:"secret"`
	// SessionTTL is how long an admin session stays valid.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LoginRateLimit is the number of login attempts allowed per client IP
	// per minute; 0 disables the limit.
	LoginRateLimit int `yaml:"login_rate_limit"`
	// IAM is the declarative IAM (YAML only).
	IAM IAMConfig `yaml:"iam" env:"-"`
	// SigV2 accepts AWS Signature Version 2 from legacy clients (on by
	// default); false means SigV4 only.
	SigV2 bool `yaml:"sigv2"`
	// Regions are the regions a SigV4 credential scope may name; "*" means
	// any. Use SigningRegions for the effective list.
	Regions []string `yaml:"regions"`
}

// AnyRegion in access.regions accepts every region.
const AnyRegion = "*"

// SigningRegions returns the regions a SigV4 credential scope may name,
// the first being the one error answers name: access.regions, else
// storage.region when set, else nil (any region). A "*" in access.regions
// also means any region.
func (c *Config) SigningRegions() []string {
	switch {
	case slices.Contains(c.Access.Regions, AnyRegion):
		return nil
	case len(c.Access.Regions) > 0:
		return slices.Clone(c.Access.Regions)
	case c.Storage.Region != "":
		return []string{c.Storage.Region}
	}
	return nil
}

// IAMConfig is declarative IAM: used only when IAMMode is declarative.
type IAMConfig struct {
	Users         []IAMUser      `yaml:"users"`
	Groups        []IAMGroup     `yaml:"groups"`
	AuthProviders []AuthProvider `yaml:"auth_providers"`
}

// IAMUser is one declared IAM user.
type IAMUser struct {
	Name            string `yaml:"name"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" dgp:"secret"`
	// Enabled defaults to true when unset; use IsEnabled.
	Enabled     *bool    `yaml:"enabled,omitempty"`
	Groups      []string `yaml:"groups"`
	Permissions []Rule   `yaml:"permissions"`
}

// IsEnabled reports whether the user is enabled (unset means enabled).
func (u IAMUser) IsEnabled() bool { return u.Enabled == nil || *u.Enabled }

// IAMGroup is one declared IAM group.
type IAMGroup struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Permissions []Rule `yaml:"permissions"`
}

// AuthProvider is one declared external sign-in provider.
type AuthProvider struct {
	Name         string `yaml:"name"`
	Type         string `yaml:"type"`
	IssuerURL    string `yaml:"issuer_url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret" dgp:"secret"`
	// Scopes defaults to openid, email, profile; use EffectiveScopes.
	Scopes []string `yaml:"scopes"`
	// Enabled defaults to true when unset; use IsEnabled.
	Enabled     *bool  `yaml:"enabled,omitempty"`
	Priority    int    `yaml:"priority"`
	DisplayName string `yaml:"display_name"`
	// RedirectURL is where the provider sends the browser back:
	// <public base URL>/_/api/admin/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// GroupMappings map a signed-in person to declared groups (by name).
	GroupMappings []GroupMapping `yaml:"group_mappings"`
}

// GroupMapping is one group mapping rule of a declared auth provider:
// exactly one matcher (email; claim with value; claim with regex) and the
// names of the declared groups it maps to (see docs/iam.md).
type GroupMapping struct {
	Email  string   `yaml:"email"`
	Claim  string   `yaml:"claim"`
	Value  string   `yaml:"value"`
	Regex  string   `yaml:"regex"`
	Groups []string `yaml:"groups"`
}

// IsEnabled reports whether the provider is enabled (unset means enabled).
func (p AuthProvider) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// EffectiveScopes returns the configured scopes, or openid, email, profile.
func (p AuthProvider) EffectiveScopes() []string {
	if len(p.Scopes) == 0 {
		return []string{"openid", "email", "profile"}
	}
	return append([]string(nil), p.Scopes...)
}

// Rule is a permission rule: Effect is Allow or Deny, Actions are among
// read, write, delete, list, admin and *, Resources are "bucket/prefix*"
// patterns where '*' may only end a pattern.
type Rule struct {
	Effect    string   `yaml:"effect"`
	Actions   []string `yaml:"actions"`
	Resources []string `yaml:"resources"`
}

// StorageConfig says where objects live. At most one of Filesystem, S3 and
// Backends is set; none means the embedded default (<data_dir>/objects).
// Use Config.Backends for the normalised list.
type StorageConfig struct {
	// Filesystem is a directory holding one subdirectory per bucket.
	Filesystem string `yaml:"filesystem"`
	// S3 is the endpoint URL of an S3-compatible service; Region,
	// AccessKeyID, SecretAccessKey and ForcePathStyle go with it.
	S3              string `yaml:"s3"`
	Region          string `yaml:"region"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" dgp:"secret"`
	ForcePathStyle  bool   `yaml:"force_path_style"`
	// Backends are named backends (YAML only).
	Backends []BackendConfig `yaml:"backends" env:"-"`
	// DefaultBackend names the backend of buckets without a route; empty
	// means the first backend.
	DefaultBackend string `yaml:"default_backend"`
	// Buckets routes bucket names to backends (YAML only).
	Buckets map[string]BucketRoute `yaml:"buckets" env:"-"`
	// Replication and Lifecycle are the background jobs (jobs.go).
	Replication ReplicationConfig `yaml:"replication"`
	Lifecycle   LifecycleConfig   `yaml:"lifecycle"`
}

// BackendConfig is one storage backend.
type BackendConfig struct {
	Name string `yaml:"name"`
	// Type is filesystem or s3.
	Type string `yaml:"type"`
	// Path is the directory of a filesystem backend.
	Path string `yaml:"path"`
	// S3Settings are the connection settings of an s3 backend.
	S3Settings `yaml:",inline"`
}

// S3Settings are how to reach an S3-compatible service. An empty Endpoint
// means AWS; empty keys mean the AWS default credential chain; an empty
// Region means the AWS default chain's region.
type S3Settings struct {
	Endpoint        string `yaml:"endpoint"`
	Region          string `yaml:"region"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" dgp:"secret"`
	ForcePathStyle  bool   `yaml:"force_path_style"`
}

// BucketRoute sends a bucket to a backend.
type BucketRoute struct {
	// Backend names the backend; empty means the default backend.
	Backend string `yaml:"backend"`
	// Alias is the bucket's name on the backend; empty means the same name.
	Alias string `yaml:"alias"`
}

// AdvancedConfig holds the operational settings.
type AdvancedConfig struct {
	ListenAddr string    `yaml:"listen_addr"`
	DataDir    string    `yaml:"data_dir"`
	TLS        TLSConfig `yaml:"tls"`
	// VirtualHostDomains: a Host of <bucket>.<domain> is virtual-host style.
	VirtualHostDomains []string      `yaml:"virtual_host_domains"`
	LogLevel           string        `yaml:"log_level"`
	LogFormat          string        `yaml:"log_format"`
	ShutdownTimeout    time.Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes     int           `yaml:"max_header_bytes"`
	// S3FastPath sends the object requests of S3 backends (GET, HEAD,
	// PUT, upload part) as plain signed HTTP requests rather than through
	// the SDK's middleware (see package s3backend); false sends every
	// request through the SDK. On by default.
	S3FastPath bool `yaml:"s3_fast_path"`
	// NodeID identifies this instance; empty means generated and kept in
	// the data dir.
	NodeID string `yaml:"node_id"`

	// ConfigSyncBucket enables config sync through this bucket when set.
	ConfigSyncBucket    string `yaml:"config_sync_bucket"`
	ConfigSyncObjectKey string `yaml:"config_sync_object_key" env:"DGP_CONFIG_SYNC_KEY,DGP_CONFIG_SYNC_OBJECT_KEY"`
	// ConfigSyncPollInterval is the ETag poll period; 0 disables the poll.
	ConfigSyncPollInterval time.Duration `yaml:"config_sync_poll_interval"`
	ConfigSyncRole         SyncRole      `yaml:"config_sync_role"`
	// ConfigSyncWriterURL is where a reader tells clients the writer is.
	ConfigSyncWriterURL string `yaml:"config_sync_writer_url"`
	// AdvertiseURL is this instance's own URL as the rest of the fleet
	// reaches it: published in its fleet status so that the admin GUI of
	// any instance can ask it to sync now. Empty: not advertised.
	AdvertiseURL string `yaml:"advertise_url"`
	// ConfigSyncWriteSchema is the config DB schema publishes write: 0
	// keeps the schema of the DB replaced (a fresh bucket, or no bucket:
	// the newest this binary writes); N writes schema N, never lower than
	// the bucket's. Raised after a rolling upgrade (docs/upgrading.md).
	ConfigSyncWriteSchema int `yaml:"config_sync_write_schema"`
	// ConfigSyncS3 reaches the sync bucket; use Config.SyncS3 for the
	// effective settings.
	ConfigSyncS3   S3Settings `yaml:"config_sync_s3"`
	ConfigSyncNATS NATSConfig `yaml:"config_sync_nats"`
	ConfigSyncSQS  SQSConfig  `yaml:"config_sync_sqs"`
}

// TLSConfig enables HTTPS when both files are set.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// NATSConfig is the NATS event source of config sync; enabled when URL is set.
type NATSConfig struct {
	// URL is one or more comma-separated nats:// (tls://, ws://, wss://) URLs.
	URL     string `yaml:"url"`
	Subject string `yaml:"subject"`
	// Stream names a JetStream stream to consume from; empty means core NATS.
	Stream string `yaml:"stream"`
	// Credentials is the path of a NATS .creds file.
	Credentials string        `yaml:"credentials"`
	Token       string        `yaml:"token" dgp:"secret"`
	User        string        `yaml:"user"`
	Password    string        `yaml:"password" dgp:"secret"`
	TLS         NATSTLSConfig `yaml:"tls"`
}

// NATSTLSConfig holds the TLS files of the NATS connection.
type NATSTLSConfig struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// SQSConfig is the SQS event source of config sync; enabled when QueueURL is set.
type SQSConfig struct {
	QueueURL string `yaml:"queue_url"`
	Region   string `yaml:"region"`
	// Endpoint overrides the SQS endpoint (for emulators).
	Endpoint string `yaml:"endpoint"`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		Access: AccessConfig{
			IAMMode:        IAMModeGUI,
			SessionTTL:     DefaultSessionTTL,
			LoginRateLimit: DefaultLoginRateLimit,
			SigV2:          true,
		},
		Storage: StorageConfig{Replication: defaultReplication(), Lifecycle: defaultLifecycle()},
		Advanced: AdvancedConfig{
			ListenAddr:             DefaultListenAddr,
			DataDir:                DefaultDataDir,
			LogLevel:               LogLevelInfo,
			LogFormat:              LogFormatAuto,
			ShutdownTimeout:        DefaultShutdownTimeout,
			MaxHeaderBytes:         DefaultMaxHeaderBytes,
			S3FastPath:             true,
			ConfigSyncObjectKey:    DefaultConfigSyncObjectKey,
			ConfigSyncPollInterval: DefaultConfigSyncPollInterval,
			ConfigSyncRole:         SyncRoleWriter,
			ConfigSyncNATS:         NATSConfig{Subject: DefaultConfigSyncNATSSubject},
		},
	}
}

// TLSEnabled reports whether the listener serves HTTPS.
func (c *Config) TLSEnabled() bool {
	return c.Advanced.TLS.CertFile != "" && c.Advanced.TLS.KeyFile != ""
}

// SyncEnabled reports whether config sync through a bucket is on.
func (c *Config) SyncEnabled() bool { return c.Advanced.ConfigSyncBucket != "" }
