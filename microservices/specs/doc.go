// Package specs checks the Yelb microservices' pipeline files against the
// canary engine that consumes them: every build.yml, run with stand-ins for
// docker and aws, writes a deploy.json that spec.Parse accepts, and every
// kubernetes_template.yml, rendered by the engine's renderer, is accepted by
// a real Kubernetes API server holding the real App Mesh, VPC Lattice and
// Gateway API CRDs. It has no code of its own, only tests.
package specs
