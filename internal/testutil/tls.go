package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCA is a throwaway certificate authority with one server certificate
// for 127.0.0.1, ::1, localhost and *.localhost, written as PEM files.
type TestCA struct {
	CAFile   string // CA certificate (AWS_CA_BUNDLE)
	CertFile string // server certificate
	KeyFile  string // server key
	Pool     *x509.CertPool
}

// NewTestCA creates the CA and server certificate in t.TempDir().
func NewTestCA(t testing.TB) *TestCA {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Must(t, err, "ca key")
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dgp test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	Must(t, err, "ca cert")
	caCert, err := x509.ParseCertificate(caDER)
	Must(t, err, "parse ca")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Must(t, err, "server key")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "*.localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	Must(t, err, "server cert")
	keyDER, err := x509.MarshalECPrivateKey(key)
	Must(t, err, "marshal key")

	ca := &TestCA{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "server.pem"),
		KeyFile:  filepath.Join(dir, "server-key.pem"),
		Pool:     x509.NewCertPool(),
	}
	ca.Pool.AddCert(caCert)
	writePEM(t, ca.CAFile, "CERTIFICATE", caDER)
	writePEM(t, ca.CertFile, "CERTIFICATE", der)
	writePEM(t, ca.KeyFile, "EC PRIVATE KEY", keyDER)
	return ca
}

// Client returns an HTTP client that trusts the CA.
func (c *TestCA) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: c.Pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	Must(t, os.WriteFile(path, b, 0o600), "write %s", path)
}

// MinIOCertsDir returns a new directory holding the server certificate and
// key under the names MinIO's --certs-dir expects (public.crt, private.key).
func (c *TestCA) MinIOCertsDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for src, dst := range map[string]string{c.CertFile: "public.crt", c.KeyFile: "private.key"} {
		b, err := os.ReadFile(src)
		Must(t, err, "read %s", src)
		Must(t, os.WriteFile(filepath.Join(dir, dst), b, 0o600), "write %s", dst)
	}
	return dir
}
