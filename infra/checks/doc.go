// Package checks holds the static checks of dgp's deployment files: the Helm
// chart (rendered with Helm's engine and decoded strictly into Kubernetes
// types), docker-compose.yml (loaded with the compose-spec loader), the
// Terraform module (parsed with HCL), the Dockerfile and the local fleet
// script. Every check compares the files with the contracts of dgp itself:
// the configuration reference (docs/configuration.md), the HTTP routes and
// the config-sync probe key in the source. It is a separate Go module so
// that the main module does not carry Helm, Kubernetes and HCL.
//
//	cd infra/checks && go test ./...
package checks
