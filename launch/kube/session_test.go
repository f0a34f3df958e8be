package kube

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/fixtures"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/drydock-dev/drydock/testdata/testenv/kubenode"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// pushServer pushes the fixture MCP server on the hardened fixture base,
// labelled with p, to repo by digest and signs it with signer (unless nil).
func pushServer(t *testing.T, repo string, p *policies.Policy, signer signature.Signer) name.Digest {
	t.Helper()
	ctx := context.Background()
	bin, err := fixtures.ServerBinary(ctx)
	require.NoError(t, err)
	base, err := fixtures.HardenedBaseImage()
	require.NoError(t, err)
	img, err := fixtures.UpstreamImage(base, "hardened-base", bin)
	require.NoError(t, err)
	label, err := p.Encode()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cfg := cf.Config
	cfg.User = p.User
	cfg.Labels = map[string]string{policies.LabelKey: label}
	img, err = mutate.Config(img, cfg)
	require.NoError(t, err)
	dg, err := img.Digest()
	require.NoError(t, err)
	r, err := name.NewRepository(repo)
	require.NoError(t, err)
	d := r.Digest(dg.String())
	require.NoError(t, remote.Write(d, img))
	if signer != nil {
		require.NoError(t, attest.Sign(ctx, d, signer))
	}
	return d
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runResult is what Run returned.
type runResult struct {
	code int
	err  error
}

// TestRunOnCluster runs the signed fixture server through a real
// kube-apiserver's pods/attach proxy to a virtual-kubelet node that runs
// Pods as docker containers, speaks MCP over the attach stream, and checks
// that nothing is left behind; an unsigned image creates no Pod.
func TestRunOnCluster(t *testing.T) {
	reg := testenv.Registry(t)
	docker := testenv.Docker(t)
	agent := kubenode.New(t, docker)
	c := newCluster(t, agent.APIServerArgs()...)
	agent.Start(t, c.cs)
	cfg := &rest.Config{Host: c.k.URL, BearerToken: c.k.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.k.CAData}}

	key := newSigner(t)
	prefix := fmt.Sprintf("%s/kube-run-%d", reg, time.Now().UnixNano())
	signed := pushServer(t, prefix+"/echo", policies.Default(), key)
	unsigned := pushServer(t, prefix+"/unsigned", policies.Default(), nil)
	verify := WithVerify(launch.WithVerifier(key), launch.WithFloor(policies.StrictFloor()))

	t.Run("refused image creates nothing", func(t *testing.T) {
		var stderr lockedBuffer
		_, err := Run(context.Background(), unsigned.String(), verify, WithRESTConfig(cfg), WithRunNamespace(c.ns), WithRunStdio(strings.NewReader(""), io.Discard, &stderr))
		require.ErrorIs(t, err, attest.ErrRefused)
		pods, err := c.cs.CoreV1().Pods(c.ns).List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, pods.Items)
		nps, err := c.cs.NetworkingV1().NetworkPolicies(c.ns).List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, nps.Items)
	})

	// Three sessions: each must leave nothing behind, and the log gives
	// the start-up time (Run called → initialize answered) of each.
	var startups []time.Duration
	for i := range 3 {
		t.Run(fmt.Sprintf("MCP over attach %d", i), func(t *testing.T) {
			startups = append(startups, mcpSession(t, c, agent, signed, verify, cfg))
		})
	}
	// A signal cancels Run's context mid-session: the Pod goes all the same.
	t.Run("cancelled mid-session", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		inR, inW := io.Pipe()
		defer inW.Close()
		var stderr lockedBuffer
		started := make(chan string, 1)
		done := make(chan runResult, 1)
		go func() {
			code, err := Run(ctx, signed.String(), verify, WithRESTConfig(cfg), WithRunNamespace(c.ns),
				WithRunStdio(inR, io.Discard, &stderr), withStarted(func(p string) { started <- p }))
			done <- runResult{code, err}
		}()
		var pod string
		select {
		case pod = <-started:
		case r := <-done:
			t.Fatalf("Run ended before the Pod ran: code %d, %v; stderr: %s", r.code, r.err, stderr.String())
		}
		cancel()
		r := <-done
		require.ErrorIs(t, r.err, context.Canceled)
		_, err := c.cs.CoreV1().Pods(c.ns).Get(context.Background(), pod, metav1.GetOptions{})
		require.Truef(t, isNotFound(err), "Pod %s still exists after Run returned (err %v); stderr: %s", pod, err, stderr.String())
		_, err = c.cs.NetworkingV1().NetworkPolicies(c.ns).Get(context.Background(), pod, metav1.GetOptions{})
		require.Truef(t, isNotFound(err), "NetworkPolicy %s still exists after Run returned (err %v)", pod, err)
		require.False(t, slices.Contains(agent.Running(t), c.ns+"/"+pod), "the Pod's container still runs on the node")
	})
	slices.Sort(startups)
	t.Logf("start-up (Run called → initialize answered), sorted: %v", startups)
}

// mcpSession runs one MCP session through Run and returns how long the
// initialize answer took from the Run call.
func mcpSession(t *testing.T, c *cluster, agent *kubenode.Agent, signed name.Digest, verify RunOption, cfg *rest.Config) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr lockedBuffer
	started := make(chan string, 1)
	done := make(chan runResult, 1)
	t0 := time.Now()
	go func() {
		code, err := Run(ctx, signed.String(), verify, WithRESTConfig(cfg), WithRunNamespace(c.ns),
			WithRunStdio(inR, outW, &stderr), withStarted(func(p string) { started <- p }))
		outW.CloseWithError(io.EOF)
		done <- runResult{code, err}
	}()

	var pod string
	select {
	case pod = <-started:
	case r := <-done:
		t.Fatalf("Run ended before the Pod ran: code %d, %v; stderr: %s", r.code, r.err, stderr.String())
	}
	// The Pod running now is the translation kube manifest prints, in a
	// session: stdin once, never restarted, behind its NetworkPolicy.
	p, err := c.cs.CoreV1().Pods(c.ns).Get(ctx, pod, metav1.GetOptions{})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(pod, "echo-"), "Pod name %q, want echo-XXXXX", pod)
	require.Equal(t, kubenode.NodeName, p.Spec.NodeName)
	ctr := p.Spec.Containers[0]
	require.Equal(t, signed.String(), ctr.Image)
	require.True(t, ctr.Stdin)
	require.True(t, ctr.StdinOnce)
	require.Equal(t, corev1.RestartPolicyNever, p.Spec.RestartPolicy)
	require.Equal(t, int64(65532), *ctr.SecurityContext.RunAsUser)
	np, err := c.cs.NetworkingV1().NetworkPolicies(c.ns).Get(ctx, pod, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{NameLabel: pod}, np.Spec.PodSelector.MatchLabels)
	require.Equal(t, pod, p.Labels[NameLabel])

	client := mcp.NewClient(&mcp.Implementation{Name: "drydock-kube-test", Version: "1"}, nil)
	s, err := client.Connect(ctx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	require.NoError(t, err, "MCP initialize over attach; stderr: %s", stderr.String())
	startup := time.Since(t0)
	require.Equal(t, "drydock-fixture", s.InitializeResult().ServerInfo.Name)
	tools, err := s.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	sort.Strings(names)
	require.Equal(t, []string{"echo", "exit", "git_version", "probe"}, names)
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "through the attach proxy"}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Equal(t, "through the attach proxy", res.Content[0].(*mcp.TextContent).Text)

	// Closing the client closes drydock's stdin: the server sees EOF.
	require.NoError(t, s.Close())
	r := <-done
	require.NoError(t, r.err, "stderr: %s", stderr.String())
	require.Equal(t, 0, r.code)
	_, err = c.cs.CoreV1().Pods(c.ns).Get(ctx, pod, metav1.GetOptions{})
	require.Truef(t, isNotFound(err), "Pod %s still exists after Run returned (err %v)", pod, err)
	_, err = c.cs.NetworkingV1().NetworkPolicies(c.ns).Get(ctx, pod, metav1.GetOptions{})
	require.Truef(t, isNotFound(err), "NetworkPolicy %s still exists after Run returned (err %v)", pod, err)
	require.False(t, slices.Contains(agent.Running(t), c.ns+"/"+pod), "the Pod's container still runs on the node")
	return startup
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
