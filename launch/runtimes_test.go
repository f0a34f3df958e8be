package launch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// Real runtimes behind allowlist mode: a Node server whose tool calls the
// global fetch() with no proxy code (Node 20 ignores the proxy variables
// and NODE_USE_ENV_PROXY, so it gets through only by the relay's DNS and
// the transparent gateway) and a Python server using urllib.request
// (through the proxy by the variables, and without them transparently).
// Java is not on this machine: JAVA_TOOL_OPTIONS stays unit-level
// (policies' RuntimeProxyEnv tests).

func TestEgressRuntimes(t *testing.T) {
	w := setup(t)
	testEgressRuntimes(t, w, w.docker)
}

func TestEgressRuntimesPodman(t *testing.T) {
	w := setup(t)
	testEgressRuntimes(t, w, podman(t))
}

func testEgressRuntimes(t *testing.T, w *world, docker *client.Client) {
	bin := staticDrydock(t)
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	egressNet := "drydock-test-egress-" + id
	testNetwork(t, docker, egressNet)
	_, gw := networkGateway(t, docker, egressNet)
	dns := startTestDNS(t)
	allowed, other, nothere := "allowed-"+id+".test", "other-"+id+".test", "nothere-"+id+".test"
	ca, certPEM, keyPEM := testCA(t, allowed)
	lname := "drydock-test-rt-allowed-" + id
	allowedIP := tlsListener(t, docker, listenerImage(t, docker), egressNet, lname, certPEM, keyPEM)
	dns.set(allowed, allowedIP)
	dns.set(other, allowedIP) // a real name, just not in the allowlist
	hello := "hello from " + lname

	p := policies.Default()
	p.Network = policies.Network{Mode: policies.NetworkAllowlist, Allow: []string{allowed + ":80", allowed + ":443"}}
	floor := policies.StrictFloor()
	floor.Network = policies.FloorNetwork{Modes: []string{policies.NetworkAllowlist}, Hosts: []string{allowed + ":80", allowed + ":443", allowedIP + ":*"}}
	opts := []Option{WithFloor(floor), WithProxyBinary(bin), WithEgressNetwork(egressNet), WithDocker(docker),
		WithEgressResolver(net.JoinHostPort(gw, dns.port))}
	files := func(server string) map[string][]byte {
		src, err := os.ReadFile(filepath.Join("testdata", "servers", server))
		require.NoError(t, err)
		return map[string][]byte{server: src, "ca.pem": ca}
	}

	t.Run("node fetch", func(t *testing.T) {
		img, err := fixtures.NodeScriptImage(files("fetch.js"), "fetch.js", []string{"NODE_EXTRA_CA_CERTS=/app/ca.pem"})
		require.NoError(t, err)
		s := w.start(t, w.pushSigned(t, "node-fetch", img, p), opts...)
		env := callJSON(t, s, "env", nil)
		require.Equal(t, "1", env["NODE_USE_ENV_PROXY"], "node's runtime setting reaches the container")
		require.Equal(t, "http://127.0.0.1:3128", env["HTTPS_PROXY"])
		for _, tt := range []struct{ url, want string }{
			{"https://" + allowed + "/", hello},
			{"http://" + allowed + "/", hello},
		} {
			got := callJSON(t, s, "fetch", map[string]any{"url": tt.url})
			require.EqualValues(t, 200, got["status"], "fetch(%s): %v", tt.url, got)
			require.Equal(t, tt.want, got["body"])
		}
		for _, url := range []string{"https://" + nothere + "/", "http://" + other + "/"} {
			got := callJSON(t, s, "fetch", map[string]any{"url": url})
			require.Contains(t, got["error"], "ENOTFOUND", "fetch(%s): %v", url, got)
		}
		require.NoError(t, s.stdin.Close())
		require.NoError(t, s.wait(t).err)
		for _, want := range []string{
			"drydock egress-proxy: denied dns " + nothere + " [-]: not in this server's network allowlist\n",
			"drydock egress-proxy: denied dns " + other + " [-]: not in this server's network allowlist\n",
		} {
			require.Contains(t, s.stderr.String(), want)
		}
	})

	t.Run("python urllib", func(t *testing.T) {
		img, err := fixtures.PythonScriptImage(context.Background(), files("urlfetch.py"), "urlfetch.py", []string{"SSL_CERT_FILE=/app/ca.pem"})
		require.NoError(t, err)
		s := w.start(t, w.pushSigned(t, "python-urllib", img, p), opts...)
		env := callJSON(t, s, "env", nil)
		require.Equal(t, "http://127.0.0.1:3128", env["https_proxy"])
		require.NotContains(t, env, "NODE_USE_ENV_PROXY", "no other runtime's settings")
		for _, tt := range []struct {
			url     string
			noProxy bool
		}{
			{"https://" + allowed + "/", false}, // CONNECT through the proxy
			{"http://" + allowed + "/", false},  // absolute-form GET through the proxy
			{"https://" + allowed + "/", true},  // the relay's DNS, SNI
			{"http://" + allowed + "/", true},   // the relay's DNS, Host
		} {
			got := callJSON(t, s, "fetch", map[string]any{"url": tt.url, "noProxy": tt.noProxy})
			require.EqualValues(t, 200, got["status"], "urlopen(%s) noProxy=%v: %v", tt.url, tt.noProxy, got)
			require.Equal(t, hello, got["body"])
		}
		got := callJSON(t, s, "fetch", map[string]any{"url": "http://" + other + "/"})
		require.EqualValues(t, 403, got["status"], "%v", got)
		got = callJSON(t, s, "fetch", map[string]any{"url": "https://" + nothere + "/", "noProxy": true})
		require.Contains(t, got["error"], "Name or service not known", "%v", got)
		require.NoError(t, s.stdin.Close())
		require.NoError(t, s.wait(t).err)
		for _, want := range []string{
			"drydock egress-proxy: denied GET " + other + ":80 [-]: not in this server's network allowlist\n",
			"drydock egress-proxy: denied dns " + nothere + " [-]: not in this server's network allowlist\n",
		} {
			require.Contains(t, s.stderr.String(), want)
		}
	})
}

// pushSigned pushes img with policy p as its label under repo:1, signs it
// and returns the tag.
func (w *world) pushSigned(t *testing.T, repo string, img v1.Image, p *policies.Policy) string {
	t.Helper()
	label, err := p.Encode()
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.Config.User = p.User
	cfg.Config.Labels = map[string]string{policies.LabelKey: label}
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	tag, err := name.NewTag(w.reg + "/" + w.prefix + "/" + repo + ":1")
	require.NoError(t, err)
	dg, err := img.Digest()
	require.NoError(t, err)
	require.NoError(t, remote.Write(tag.Context().Digest(dg.String()), img))
	require.NoError(t, attest.Sign(context.Background(), tag.Context().Digest(dg.String()), w.signer))
	require.NoError(t, remote.Tag(tag, img))
	return tag.String()
}

// callJSON calls a script server's tool and decodes its JSON text.
func callJSON(t *testing.T, s *session, tool string, args map[string]any) map[string]any {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	require.NoError(t, err, "stderr: %s", s.stderr)
	require.False(t, res.IsError)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &out))
	return out
}

// testCA is a CA certificate (PEM, what the servers trust) and a server
// certificate and key it signed for host.
func testCA(t *testing.T, host string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drydock test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// tlsListener is listener with the given certificate on :443.
func tlsListener(t *testing.T, d Docker, image, net, name string, certPEM, keyPEM []byte) string {
	t.Helper()
	ctx := context.Background()
	c, err := d.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{name}, Labels: map[string]string{"dev.drydock.test": "1"},
		Env: []string{"LISTENER_CERT=" + string(certPEM), "LISTENER_KEY=" + string(keyPEM)}},
		&container.HostConfig{NetworkMode: container.NetworkMode(net), ReadonlyRootfs: true, CapDrop: []string{"ALL"},
			Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"}}, nil, nil, name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) })
	require.NoError(t, d.ContainerStart(ctx, c.ID, container.StartOptions{}))
	info, err := d.ContainerInspect(ctx, c.ID)
	require.NoError(t, err)
	ip := info.NetworkSettings.Networks[net].IPAddress
	require.NotEmpty(t, ip)
	return ip
}
