// Package conformance holds dgp's S3 conformance suites (build tag
// integration): real clients (AWS CLI v1 and v2, boto3, aws-sdk-go-v2,
// rclone, s3cmd) run against dgp on a directory and dgp in front of MinIO,
// over HTTP and HTTPS, and differential tests that send the same signed
// requests to MinIO directly and through dgp and compare the answers field
// by field. docs/conformance.md says what each suite checks and how to run
// one.
package conformance
