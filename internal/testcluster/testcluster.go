// Package testcluster starts a real Kubernetes control plane on 127.0.0.1 for
// tests and demos: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok with one fake arm64 Linux Node, so Deployments and
// StatefulSets roll out and become Available without a kubelet. The App Mesh,
// VPC Lattice controller, ExternalDNS and Gateway API CRDs are installed, so templates are
// validated by the same schemas a cluster on EKS uses.
//
// One plane per test package, shared by its tests:
//
//	var plane testcluster.Shared
//
//	func TestMain(m *testing.M) { os.Exit(plane.Main(m)) }
//
//	func TestX(t *testing.T) {
//		c := plane.Get(t)
//		ns := c.Namespace(t)
//		...
//	}
package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/eks-canary/platform/internal/upstream"
	"github.com/eks-canary/platform/lambdas/kube/typed"
)

// NodeName is the fake node every pod is scheduled to.
const NodeName = "kwok-node-0"

// serviceCIDR is shared by the API server and the controller manager; a /16
// holds the Services of the scale bench's thousand versions.
const serviceCIDR = "10.0.0.0/16"

// Options locate the binaries and CRDs. Empty fields take the defaults
// described on each field.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kwok and kwok-stages/. Default: $CANARY_CONTROL_PLANE_BIN,
	// else the folder scripts/build-control-plane.sh builds.
	BinDir string
	// UpstreamDir holds the vendored charts whose CRDs are installed
	// (charts/<chart>/crds). Default: testdata/upstream in the repository.
	UpstreamDir string
	// GatewayAPICRDs is a file of Gateway API CRDs. Default: the standard
	// bundle the environment program installs (infra/traffic/manifests).
	GatewayAPICRDs string
	// NoCRDs starts a plane with no CRDs at all, for a test in which the
	// environment program installs them itself.
	NoCRDs bool
}

// Cluster is a running control plane. Its clients are authenticated as a
// member of system:masters.
type Cluster struct {
	Config     *rest.Config
	Kubeconfig string // path of a kubeconfig file for kubectl, canaryctl or clientcmd
	Dynamic    dynamic.Interface
	Clientset  typed.Interface
	// StartupTime is how long New took, from the first process to a pod running.
	StartupTime time.Duration

	dir      string
	procs    []*process
	stopOnce sync.Once
}

// New starts a control plane. The caller must call Stop.
func New(opts Options) (*Cluster, error) {
	began := time.Now()
	if err := opts.resolve(); err != nil {
		return nil, err
	}
	if err := checkBinaries(opts.BinDir); err != nil {
		return nil, err
	}
	var crds []*unstructured.Unstructured
	if !opts.NoCRDs {
		var err error
		if crds, err = loadCRDs(opts.UpstreamDir, opts.GatewayAPICRDs); err != nil {
			return nil, err
		}
	}

	dir, err := os.MkdirTemp("", "testcluster-")
	if err != nil {
		return nil, fmt.Errorf("create control plane folder: %w", err)
	}
	c := &Cluster{dir: dir}
	if err := c.boot(opts, crds); err != nil {
		err = fmt.Errorf("%w\n%s", err, c.LogTails(40))
		c.Stop()
		return nil, err
	}
	c.StartupTime = time.Since(began)
	return c, nil
}

func (o *Options) resolve() error {
	var err error
	if o.BinDir == "" {
		if o.BinDir, err = defaultBinDir(); err != nil {
			return err
		}
	}
	if o.UpstreamDir == "" {
		if o.UpstreamDir, err = upstream.Dir(); err != nil {
			return err
		}
	}
	if o.GatewayAPICRDs == "" {
		if o.GatewayAPICRDs, err = defaultGatewayAPICRDs(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) boot(opts Options, crds []*unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	certs, err := newPKI(c.dir)
	if err != nil {
		return fmt.Errorf("create certificates: %w", err)
	}
	etcdURL, err := c.startEtcd(opts.BinDir)
	if err != nil {
		return err
	}
	server, err := c.startAPIServer(opts.BinDir, etcdURL, certs)
	if err != nil {
		return err
	}
	if err := c.connect(server, certs); err != nil {
		return err
	}

	bin := func(name string) string { return filepath.Join(opts.BinDir, name) }
	var stageArgs []string
	for _, s := range kwokStages {
		stageArgs = append(stageArgs, "--config="+filepath.Join(opts.BinDir, "kwok-stages", s))
	}
	components := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--kube-api-qps=100", "--kube-api-burst=200",
			// These checks hold back a controller's sync, with exponential
			// back-off, while its informer lags behind its own writes; on a
			// loaded two-core machine that stalls a ReplicaSet's pods for
			// minutes. The tests exercise the engine, not this safeguard.
			"--feature-gates=StaleControllerConsistencyReplicaSet=false,StaleControllerConsistencyStatefulSet=false," +
				"StaleControllerConsistencyDaemonSet=false,StaleControllerConsistencyJob=false",
			// kwok renews the fake node's lease about as often as the default
			// 50 s grace; every late renewal marked the node NotReady, so
			// new pods stayed unscheduled and ready ones turned unready.
			"--node-monitor-grace-period=1h",
		}},
		{"kube-scheduler", []string{
			"--kubeconfig=" + c.Kubeconfig,
			"--leader-elect=false",
			"--secure-port=0",
		}},
		{"kwok", append([]string{
			"--kubeconfig=" + c.Kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--cidr=10.244.0.1/16",
			"--node-ip=127.0.0.1",
		}, stageArgs...)},
	}
	for _, comp := range components {
		p, err := startProcess(comp.name, bin(comp.name), comp.args, c.logPath(comp.name))
		if err != nil {
			return err
		}
		c.procs = append(c.procs, p)
	}

	if err := c.createNode(ctx); err != nil {
		return err
	}
	if err := installCRDs(ctx, c.Dynamic, c.Clientset.Discovery(), crds); err != nil {
		return err
	}
	if err := c.waitNodeReady(ctx); err != nil {
		return err
	}
	return c.probePod(ctx)
}

func (c *Cluster) logPath(name string) string { return filepath.Join(c.dir, name+".log") }

// waitHealthy polls check until it passes, the process exits, or time runs out.
func waitHealthy(p *process, timeout time.Duration, check func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited during start: %v", p.name, p.waitErr)
		}
		if check() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %s", p.name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startWithPorts retries when another process took a port between the
// probe and the bind, which happens when many test binaries start at once.
func (c *Cluster) startWithPorts(name string, ports int, launch func(ports []int) (*process, func() bool, error)) (*process, []int, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		picked := make([]int, ports)
		for i := range picked {
			port, err := freePort()
			if err != nil {
				return nil, nil, err
			}
			picked[i] = port
		}
		p, check, err := launch(picked)
		if err != nil {
			return nil, nil, err
		}
		lastErr = waitHealthy(p, time.Minute, check)
		if lastErr == nil {
			c.procs = append(c.procs, p)
			return p, picked, nil
		}
		p.stop(0)
		if !p.logContains("address already in use") {
			break
		}
	}
	return nil, nil, fmt.Errorf("start %s: %w", name, lastErr)
}

func (c *Cluster) startEtcd(binDir string) (string, error) {
	var url string
	_, _, err := c.startWithPorts("etcd", 2, func(ports []int) (*process, func() bool, error) {
		dataDir := filepath.Join(c.dir, "etcd-data")
		if err := os.RemoveAll(dataDir); err != nil {
			return nil, nil, err
		}
		url = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		p, err := startProcess("etcd", filepath.Join(binDir, "etcd"), []string{
			"--name=default",
			"--data-dir=" + dataDir,
			"--listen-client-urls=" + url,
			"--advertise-client-urls=" + url,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=default=" + peer,
			"--unsafe-no-fsync",
			"--log-level=warn",
		}, c.logPath("etcd"))
		check := func() bool {
			resp, err := http.Get(url + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		return p, check, err
	})
	return url, err
}

func (c *Cluster) startAPIServer(binDir, etcdURL string, certs *pki) (string, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certs.caPEM)
	clientCert, err := tls.X509KeyPair(certs.adminCertPEM, certs.adminKeyPEM)
	if err != nil {
		return "", fmt.Errorf("load admin certificate: %w", err)
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}},
	}}
	var server string
	_, _, err = c.startWithPorts("kube-apiserver", 1, func(ports []int) (*process, func() bool, error) {
		server = "https://127.0.0.1:" + strconv.Itoa(ports[0])
		p, err := startProcess("kube-apiserver", filepath.Join(binDir, "kube-apiserver"), []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports[0]),
			// The default reconciler keeps the kubernetes Service endpoints
			// pointing at the advertise address and fails on loopback.
			"--endpoint-reconciler-type=none",
			"--cert-dir=" + c.dir,
			"--tls-cert-file=" + certs.servingCert,
			"--tls-private-key-file=" + certs.servingKey,
			"--client-ca-file=" + certs.caCert,
			"--service-account-issuer=" + server,
			"--service-account-key-file=" + certs.saPub,
			"--service-account-signing-key-file=" + certs.saKey,
			"--service-cluster-ip-range=" + serviceCIDR,
			"--authorization-mode=RBAC",
			// Pods never run a process here, so they need no token; without
			// this a pod created before the namespace's default
			// ServiceAccount exists would be rejected.
			"--disable-admission-plugins=ServiceAccount",
			"--allow-privileged=true",
			"--profiling=false",
		}, c.logPath("kube-apiserver"))
		check := func() bool {
			resp, err := client.Get(server + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		return p, check, err
	})
	return server, err
}

// connect writes the kubeconfig and builds the clients from it, so tests use
// exactly what kubectl and canaryctl would.
func (c *Cluster) connect(server string, certs *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testcluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: certs.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: certs.adminCertPEM, ClientKeyData: certs.adminKeyPEM}
	cfg.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "testcluster"
	c.Kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", c.Kubeconfig, err)
	}
	// Client-side throttling would only slow tests down on a private plane.
	restCfg.QPS, restCfg.Burst = 200, 400
	c.Config = restCfg
	if c.Clientset, err = typed.NewForConfig(restCfg); err != nil {
		return fmt.Errorf("build clientset: %w", err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(restCfg); err != nil {
		return fmt.Errorf("build dynamic client: %w", err)
	}
	return nil
}

// createNode registers the fake node with the labels a kubelet on an EKS
// Graviton node sets, because the platform's templates select arm64 Linux nodes.
func (c *Cluster) createNode(ctx context.Context) error {
	// Room for every test of a package at once: the pods of namespaces
	// being deleted still count against the node until they are gone.
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("1000"),
		corev1.ResourceMemory: resource.MustParse("8Ti"),
		corev1.ResourcePods:   resource.MustParse("5000"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": NodeName,
				"kubernetes.io/arch":     "arm64",
				"kubernetes.io/os":       "linux",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	if _, err := c.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create node %s: %w", NodeName, err)
	}
	return nil
}

// waitNodeReady waits for kwok to report the node Ready and for the node
// lifecycle controller to lift the not-ready taint, else nothing schedules.
func (c *Cluster) waitNodeReady(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.componentsAlive(); err != nil {
			return false, err
		}
		node, err := c.Clientset.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		ready := false
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		return ready && len(node.Spec.Taints) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("wait for node %s to be ready and untainted: %w", NodeName, err)
	}
	return nil
}

// probePod proves the scheduler and kwok work end to end before any test runs.
func (c *Cluster) probePod(ctx context.Context) error {
	pods := c.Clientset.CoreV1().Pods(metav1.NamespaceSystem)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "testcluster-probe"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "registry.k8s.io/pause:3.10"}}},
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := c.componentsAlive(); err != nil {
			return false, err
		}
		live, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, _ = pods.Create(ctx, pod, metav1.CreateOptions{})
			return false, nil
		}
		if err != nil {
			return false, nil
		}
		for _, cond := range live.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("wait for probe pod to be scheduled and ready: %w", err)
	}
	zero := int64(0)
	if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return fmt.Errorf("delete probe pod: %w", err)
	}
	return nil
}

func (c *Cluster) componentsAlive() error {
	for _, p := range c.procs {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.waitErr)
		}
	}
	return nil
}

// Stop ends the clients of the API server together, then the API server,
// then etcd, and removes the temp folder. Safe to call twice.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		core := min(2, len(c.procs)) // etcd and kube-apiserver start first
		var wg sync.WaitGroup
		for _, p := range c.procs[core:] {
			wg.Go(func() { p.stop(5 * time.Second) })
		}
		wg.Wait()
		for i := core - 1; i >= 0; i-- {
			c.procs[i].stop(5 * time.Second)
		}
		_ = os.RemoveAll(c.dir)
	})
}

// LogTails returns the last n lines of each component's log.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		p := &process{name: name, logPath: c.logPath(name)}
		if _, err := os.Stat(p.logPath); err != nil {
			continue
		}
		fmt.Fprintf(&b, "----- %s (last %d lines of %s) -----\n%s\n", name, n, p.logPath, p.tail(n))
	}
	return b.String()
}

// Shared is one plane per test package, started by the first test that asks
// for it, so the package's pure unit tests run without the binaries.
type Shared struct {
	Options Options

	once    sync.Once
	cluster *Cluster
	err     error
	failed  atomic.Bool
}

// Get returns the package's plane, starting it on first use.
func (s *Shared) Get(t testing.TB) *Cluster {
	t.Helper()
	s.once.Do(func() { s.cluster, s.err = New(s.Options) })
	if s.err != nil {
		t.Fatalf("start control plane: %v", s.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.failed.Store(true)
		}
	})
	return s.cluster
}

// Main runs the tests, prints the plane's logs if a test using it failed,
// and stops the plane. Use it as os.Exit(plane.Main(m)) in TestMain.
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	if s.cluster != nil {
		if s.failed.Load() {
			fmt.Fprintf(os.Stderr, "control plane logs:\n%s", s.cluster.LogTails(60))
		}
		s.cluster.Stop()
	}
	return code
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for this test only, deleted when it ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	name := base + "-" + rand.String(5)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = c.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}
