package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/drydock-dev/drydock/testdata/testenv/kubenode"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TestRunKube drives `drydock run --kube` as an MCP client's command would,
// against a real kube-apiserver whose pods/attach reaches a virtual-kubelet
// node running Pods as docker containers. The cluster comes from
// $KUBECONFIG and the namespace from its context.
func TestRunKube(t *testing.T) {
	w := setup(t)
	agent := kubenode.New(t, w.docker)
	k := testenv.KubeAPIServer(t, agent.APIServerArgs()...)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: k.URL, BearerToken: k.Token, TLSClientConfig: rest.TLSClientConfig{CAData: k.CAData}})
	require.NoError(t, err)
	agent.Start(t, cs)
	const ns = "mcp"
	ctx := context.Background()
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"test": {Server: k.URL, CertificateAuthorityData: k.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"test": {Token: k.Token}},
		Contexts:       map[string]*clientcmdapi.Context{"test": {Cluster: "test", AuthInfo: "test", Namespace: ns}},
		CurrentContext: "test",
	}, kc))
	env := []string{"KUBECONFIG=" + kc}
	nothingLeft := func(t *testing.T) {
		t.Helper()
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, pods.Items, "Pods left behind")
		nps, err := cs.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, nps.Items, "NetworkPolicies left behind")
	}

	t.Run("unsigned image is refused and creates no Pod", func(t *testing.T) {
		r := drydock(t, env, "run", w.fx.Upstream, "--key", w.pub, "--kube")
		require.Equal(t, exitLaunchFailed, r.code, "stderr: %s", r.stderr)
		require.Contains(t, r.stderr, "no signature found")
		require.Equal(t, 0, strings.Count(strings.TrimSpace(r.stderr), "\n"), "one sentence: %q", r.stderr)
		require.Empty(t, r.stdout)
		nothingLeft(t)
	})

	t.Run("MCP initialize, tools/list, tools/call over attach", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		cmd := exec.Command(drydockBin, "run", w.hardened, "--key", w.pub, "--kube")
		cmd.Env = append(os.Environ(), env...)
		var stderr strings.Builder
		cmd.Stderr = &syncWriter{w: &stderr}
		c := mcp.NewClient(&mcp.Implementation{Name: "drydock-e2e", Version: "1"}, nil)
		s, err := c.Connect(cctx, &mcp.CommandTransport{Command: cmd}, nil)
		require.NoError(t, err, "MCP initialize through drydock run --kube failed; stderr: %s", stderr.String())
		require.Equal(t, "drydock-fixture", s.InitializeResult().ServerInfo.Name)
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.Len(t, pods.Items, 1)
		require.Equal(t, w.hardened, pods.Items[0].Spec.Containers[0].Image)
		require.Equal(t, kubenode.NodeName, pods.Items[0].Spec.NodeName)
		tools, err := s.ListTools(cctx, nil)
		require.NoError(t, err)
		require.NotEmpty(t, tools.Tools)
		require.Equal(t, "over the attach stream", callText(t, s, "echo", map[string]any{"text": "over the attach stream"}))
		require.NoError(t, s.Close(), "stderr: %s", stderr.String())
		require.Equal(t, 0, cmd.ProcessState.ExitCode(), "stderr: %s", stderr.String())
		nothingLeft(t)
	})
}
