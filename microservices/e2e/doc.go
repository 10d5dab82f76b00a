// Package e2e holds end-to-end tests of the Yelb microservices on this
// machine: the real app server binary over real PostgreSQL and Redis, the
// yelb-ui bundle behind a real nginx using the yelb-ui configuration, driven
// by headless Chromium; and the yelb-db init script and redis-server
// configuration run against the real servers.
package e2e
