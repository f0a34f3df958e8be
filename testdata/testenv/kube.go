package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// KubeVersion is the Kubernetes release hack/dev-env builds (hack/tools/kube).
const KubeVersion = "v1.37.2"

// Kube is a running kube-apiserver (over its own etcd) for one test package.
type Kube struct {
	// URL is the API server's https address on 127.0.0.1.
	URL string
	// Token authenticates as a member of system:masters.
	Token string
	// CAData is the PEM CA that signed the API server's serving certificate.
	CAData []byte
	// Dir is a private temporary directory (certificates, logs).
	Dir string
}

// KubeBinDir is where hack/dev-env caches kube-apiserver and etcd:
// DRYDOCK_KUBE_BIN, else ~/.cache/drydock/kube-<KubeVersion>.
func KubeBinDir() string {
	if d := os.Getenv("DRYDOCK_KUBE_BIN"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "drydock", "kube-"+KubeVersion)
}

// KubeAPIServer starts etcd and kube-apiserver for the calling test and stops
// them when it ends; extraArgs are added to kube-apiserver's flags. Missing
// binaries fail under CI and skip elsewhere.
func KubeAPIServer(t testing.TB, extraArgs ...string) *Kube {
	t.Helper()
	k, stop, err := StartKube(extraArgs...)
	if err != nil {
		Unavailable(t, "cannot start kube-apiserver %s (%v); build it with `hack/dev-env kube` (make test does)", KubeVersion, err)
	}
	t.Cleanup(stop)
	return k
}

// StartKube starts etcd and kube-apiserver on free loopback ports with their
// own temporary directories, and waits until /readyz answers ok. The API
// server runs without the ServiceAccount admission plugin and without an
// endpoint reconciler (there are no nodes or kube-system controllers), with
// a static token of system:masters, plus extraArgs. stop kills both and
// removes the state.
func StartKube(extraArgs ...string) (k *Kube, stop func(), err error) {
	bin := KubeBinDir()
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, nil, fmt.Errorf("no %s in %s: %w", b, bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "kube")
	if err != nil {
		return nil, nil, err
	}
	var procs []*proc
	stop = func() {
		for i := len(procs) - 1; i >= 0; i-- {
			_ = procs[i].cmd.Process.Kill()
			<-procs[i].done
		}
		os.RemoveAll(dir)
	}
	fail := func(err error) (*Kube, func(), error) {
		stop()
		return nil, nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return fail(err)
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	etcd, err := startLogged(dir, "etcd", filepath.Join(bin, "etcd"),
		"--name", "kube-test", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "kube-test="+peerURL, "--log-level", "warn")
	if err != nil {
		return fail(err)
	}
	procs = append(procs, etcd)
	if err := waitReady(etcd, filepath.Join(dir, "etcd.log"), &http.Client{Timeout: 2 * time.Second}, etcdURL+"/health", ""); err != nil {
		return fail(err)
	}

	ca, err := NewCA()
	if err != nil {
		return fail(err)
	}
	certPEM, keyPEM, err := ca.Issue("127.0.0.1", "localhost")
	if err != nil {
		return fail(err)
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fail(err)
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return fail(err)
	}
	token := hex.EncodeToString(tok)
	files := map[string][]byte{
		"serving.crt": certPEM, "serving.key": keyPEM,
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"tokens.csv": []byte(token + ",drydock-test,drydock-test,system:masters\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fail(err)
		}
	}
	url := "https://127.0.0.1:" + strconv.Itoa(ports[2])
	apiArgs := []string{"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2]),
		"--tls-cert-file", filepath.Join(dir, "serving.crt"), "--tls-private-key-file", filepath.Join(dir, "serving.key"),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/24",
		"--endpoint-reconciler-type", "none",
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false"}
	api, err := startLogged(dir, "kube-apiserver", filepath.Join(bin, "kube-apiserver"), append(apiArgs, extraArgs...)...)
	if err != nil {
		return fail(err)
	}
	procs = append(procs, api)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := waitReady(api, filepath.Join(dir, "kube-apiserver.log"), hc, url+"/readyz", token); err != nil {
		return fail(err)
	}
	return &Kube{URL: url, Token: token, CAData: ca.CertPEM, Dir: dir}, stop, nil
}

// proc is a started process; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startLogged starts argv with stdout and stderr in DIR/NAME.log.
func startLogged(dir, name, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// waitReady polls url until it answers 200, the process exits, or two
// minutes pass (kube-apiserver installs its APIs for many seconds on a busy
// two-core machine).
func waitReady(p *proc, logfile string, c *http.Client, url, token string) error {
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			log, _ := os.ReadFile(logfile)
			return fmt.Errorf("it exited before %s answered; end of %s:\n%s", url, logfile, tail(log))
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logfile)
	return fmt.Errorf("%s did not become ready (%v); end of %s:\n%s", url, last, logfile, tail(log))
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// CA is a throwaway certificate authority for test servers.
type CA struct {
	CertPEM []byte
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

// NewCA makes a CA valid for one day.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drydock test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert: cert, key: key}, nil
}

// Issue signs a serving certificate for hosts (IPs or DNS names) and
// returns it and its key in PEM.
func (ca *CA) Issue(hosts ...string) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("no host to issue a certificate for")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
