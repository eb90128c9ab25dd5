// Package composetest runs the repository's docker-compose.yml, unchanged,
// with `docker compose up` on locally built images (the integration test
// compose_test.go): every health check passes and the multi-instance guide's
// Verify holds against the readers. It has no code of its own.
package composetest
