// Package deploy holds the tests of lakestream's deployment files: the
// Dockerfile, the Kubernetes manifests (Kustomize), the Prometheus rules and
// the Grafana dashboard. It is a module of its own so that the Kubernetes,
// Kustomize, BuildKit and Prometheus modules its tests need stay out of the
// main module. `make deploy-test` runs it (and promtool); docs/operations.md
// describes what the files deploy.
package deploy
