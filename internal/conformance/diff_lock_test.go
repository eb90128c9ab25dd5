//go:build integration

package conformance

import (
	"testing"
	"time"
)

func retentionBody(mode, until string) string {
	return `<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>` + mode + `</Mode><RetainUntilDate>` + until + `</RetainUntilDate></Retention>`
}

func legalHoldBody(status string) string {
	return `<LegalHold xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>` + status + `</Status></LegalHold>`
}

const lockConfigDefault = `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled>` +
	`<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>`

const lockConfigEnabledOnly = `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`

// Object lock: a lock-enabled bucket, default retention, GOVERNANCE
// retention (refused delete, bypass), legal hold, a short COMPLIANCE
// retention (refused even with bypass), and the errors of lock calls on a
// bucket without lock.
func TestDifferentialObjectLock(t *testing.T) {
	bypass := map[string]string{"X-Amz-Bypass-Governance-Retention": "true"}
	runDifferential(t, scenario{
		Name:         "lock",
		Buckets:      []string{"locked", "plain"},
		CleanupRetry: time.Minute,
		Vars: func() map[string]string {
			now := time.Now().UTC().Truncate(time.Second)
			return map[string]string{
				"gov":     now.Add(48 * time.Hour).Format(time.RFC3339),
				"longer":  now.Add(72 * time.Hour).Format(time.RFC3339),
				"shorter": now.Add(47 * time.Hour).Format(time.RFC3339),
				"comp":    now.Add(15 * time.Second).Format(time.RFC3339),
				"past":    now.Add(-time.Hour).Format(time.RFC3339),
			}
		},
		Steps: []step{
			{Name: "create-locked", Method: "PUT", Path: "/{locked}", Header: map[string]string{"X-Amz-Bucket-Object-Lock-Enabled": "true"}},
			{Name: "create-plain", Method: "PUT", Path: "/{plain}"},
			{Name: "get-lock-config", Method: "GET", Path: "/{locked}?object-lock"},
			{Name: "get-versioning-of-locked", Method: "GET", Path: "/{locked}?versioning"},
			{Name: "suspend-locked", Method: "PUT", Path: "/{locked}?versioning", Body: versioningSuspended},
			{Name: "put-default-retention", Method: "PUT", Path: "/{locked}?object-lock", Body: lockConfigDefault, MD5: true},
			{Name: "get-default-retention", Method: "GET", Path: "/{locked}?object-lock"},
			{Name: "put-under-default", Method: "PUT", Path: "/{locked}/dflt", Body: "d"},
			{Name: "head-under-default", Method: "HEAD", Path: "/{locked}/dflt"},
			{Name: "remove-default-retention", Method: "PUT", Path: "/{locked}?object-lock", Body: lockConfigEnabledOnly, MD5: true},
			{Name: "put-governed", Method: "PUT", Path: "/{locked}/gov", Body: "governed", MD5: true,
				Header: map[string]string{"X-Amz-Object-Lock-Mode": "GOVERNANCE", "X-Amz-Object-Lock-Retain-Until-Date": "{gov}"},
				Save:   map[string]string{"govv": "header:X-Amz-Version-Id"}},
			{Name: "head-governed", Method: "HEAD", Path: "/{locked}/gov"},
			{Name: "get-governed", Method: "GET", Path: "/{locked}/gov?versionId={govv}"},
			{Name: "get-retention", Method: "GET", Path: "/{locked}/gov?retention&versionId={govv}"},
			{Name: "delete-governed-version", Method: "DELETE", Path: "/{locked}/gov?versionId={govv}"},
			{Name: "delete-governed-makes-marker", Method: "DELETE", Path: "/{locked}/gov"},
			{Name: "shorten-retention", Method: "PUT", Path: "/{locked}/gov?retention&versionId={govv}", Body: retentionBody("GOVERNANCE", "{shorter}"), MD5: true},
			{Name: "extend-retention", Method: "PUT", Path: "/{locked}/gov?retention&versionId={govv}", Body: retentionBody("GOVERNANCE", "{longer}"), MD5: true},
			{Name: "get-extended-retention", Method: "GET", Path: "/{locked}/gov?retention&versionId={govv}"},
			{Name: "retention-in-past", Method: "PUT", Path: "/{locked}/gov?retention&versionId={govv}", Body: retentionBody("GOVERNANCE", "{past}"), MD5: true},
			{Name: "retention-bad-mode", Method: "PUT", Path: "/{locked}/gov?retention&versionId={govv}", Body: retentionBody("FOREVER", "{longer}"), MD5: true},
			{Name: "legal-hold-on", Method: "PUT", Path: "/{locked}/gov?legal-hold&versionId={govv}", Body: legalHoldBody("ON"), MD5: true},
			{Name: "get-legal-hold", Method: "GET", Path: "/{locked}/gov?legal-hold&versionId={govv}"},
			{Name: "head-held", Method: "HEAD", Path: "/{locked}/gov?versionId={govv}"},
			{Name: "delete-held-with-bypass", Method: "DELETE", Path: "/{locked}/gov?versionId={govv}", Header: bypass},
			{Name: "legal-hold-off", Method: "PUT", Path: "/{locked}/gov?legal-hold&versionId={govv}", Body: legalHoldBody("OFF"), MD5: true},
			{Name: "delete-governed-with-bypass", Method: "DELETE", Path: "/{locked}/gov?versionId={govv}", Header: bypass},
			{Name: "put-no-retention", Method: "PUT", Path: "/{locked}/free", Body: "free", MD5: true, Save: map[string]string{"freev": "header:X-Amz-Version-Id"}},
			{Name: "get-missing-retention", Method: "GET", Path: "/{locked}/free?retention&versionId={freev}"},
			{Name: "get-missing-legal-hold", Method: "GET", Path: "/{locked}/free?legal-hold&versionId={freev}"},
			{Name: "put-compliance", Method: "PUT", Path: "/{locked}/comp", Body: "compliant", MD5: true,
				Header: map[string]string{"X-Amz-Object-Lock-Mode": "COMPLIANCE", "X-Amz-Object-Lock-Retain-Until-Date": "{comp}"},
				Save:   map[string]string{"compv": "header:X-Amz-Version-Id"}},
			{Name: "delete-compliance-with-bypass", Method: "DELETE", Path: "/{locked}/comp?versionId={compv}", Header: bypass},
			{Name: "compliance-to-governance", Method: "PUT", Path: "/{locked}/comp?retention&versionId={compv}", Body: retentionBody("GOVERNANCE", "{comp}"), MD5: true, Header: bypass},
			{Name: "put-lock-headers-without-date", Method: "PUT", Path: "/{locked}/half", Body: "h", MD5: true, Header: map[string]string{"X-Amz-Object-Lock-Mode": "GOVERNANCE"}},
			{Name: "list-locked-versions", Method: "GET", Path: "/{locked}?versions"},
			// A bucket without object lock.
			{Name: "plain-get-lock-config", Method: "GET", Path: "/{plain}?object-lock"},
			{Name: "plain-put-object", Method: "PUT", Path: "/{plain}/k", Body: "p", MD5: true},
			{Name: "plain-get-retention", Method: "GET", Path: "/{plain}/k?retention"},
			{Name: "plain-put-legal-hold", Method: "PUT", Path: "/{plain}/k?legal-hold", Body: legalHoldBody("ON"), MD5: true},
			{Name: "plain-put-with-lock-headers", Method: "PUT", Path: "/{plain}/k2", Body: "p", MD5: true,
				Header: map[string]string{"X-Amz-Object-Lock-Mode": "GOVERNANCE", "X-Amz-Object-Lock-Retain-Until-Date": "{gov}"}},
			{Name: "plain-enable-lock-unversioned", Method: "PUT", Path: "/{plain}?object-lock", Body: lockConfigEnabledOnly, MD5: true},
		},
	})
}
