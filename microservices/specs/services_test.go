package specs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/eks-canary/platform/lambdas/contract"
)

// service is one microservice folder and what its files must say.
type service struct {
	name     string
	port     int     // the version Service's port
	inPlace  bool    // stateful: one StatefulSet, no split
	step     int     // percentage_step of the original pipeline
	failures float64 // failure_threshold_value of the original pipeline
}

var services = []service{
	{name: "yelb-appserver", port: 4567, step: 10, failures: 0},
	{name: "yelb-ui", port: 8080, step: 25, failures: 5},
	{name: "yelb-db", port: 5432, inPlace: true, step: 25, failures: 5},
	{name: "redis-server", port: 6379, inPlace: true, step: 25, failures: 5},
}

var routerNames = contract.Routers()

// dir is the service's folder, beside this package.
func (s service) dir() string { return filepath.Join("..", s.name) }

func (s service) file(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s service) template(t *testing.T, router string) []byte {
	t.Helper()
	return s.file(t, filepath.Join("specfiles", router, "kubernetes_template.yml"))
}
