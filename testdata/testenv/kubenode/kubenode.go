// Package kubenode is a test node for a kube-apiserver without kubelet: the
// kubelet API (pods/attach included) is virtual-kubelet's, each Pod runs as
// a docker container under the Pod's own securityContext and resources, and
// Pods without a node are bound to it (there is no scheduler). Only tests
// import it: virtual-kubelet never reaches drydock's binary.
package kubenode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/drydock-dev/drydock/testdata/testenv"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// NodeName is the one node of the test cluster.
const NodeName = "drydock-docker-node"

// podLabel marks the agent's containers with their Pod (namespace/name).
const podLabel = "dev.drydock.test.pod"

// Agent is the node: see the package comment.
type Agent struct {
	docker  *dockerclient.Client
	port    int
	certDir string
	ca      *testenv.CA

	mu     sync.Mutex
	pods   map[string]*corev1.Pod // by namespace/name
	ctrs   map[string]string      // container ID by namespace/name
	notify func(*corev1.Pod)
}

// New prepares the agent's serving certificate; APIServerArgs make the API
// server trust it. Start it once the API server runs.
func New(t *testing.T, docker *dockerclient.Client) *Agent {
	t.Helper()
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	a := &Agent{docker: docker, certDir: t.TempDir(), ca: ca, pods: map[string]*corev1.Pod{}, ctrs: map[string]string{}}
	require.NoError(t, os.WriteFile(filepath.Join(a.certDir, "kubelet-ca.crt"), ca.CertPEM, 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a.port = l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return a
}

// APIServerArgs verifies the agent's serving certificate, as a cluster
// verifies its kubelets'.
func (a *Agent) APIServerArgs() []string {
	return []string{
		"--kubelet-certificate-authority", filepath.Join(a.certDir, "kubelet-ca.crt"),
		"--kubelet-preferred-address-types", "InternalIP",
	}
}

// Start registers the node, serves the kubelet API and binds Pods until the
// test ends; every container it made is removed then.
func (a *Agent) Start(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	certPEM, keyPEM, err := a.ca.Issue("127.0.0.1")
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	mux := http.NewServeMux()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := nodeutil.NewNode(NodeName,
		func(nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) { return a, nil, nil },
		nodeutil.WithClient(cs),
		nodeutil.AttachProviderRoutes(mux),
		nodeutil.WithTLSConfig(func(c *tls.Config) error { c.Certificates = []tls.Certificate{cert}; return nil }),
		func(c *nodeutil.NodeConfig) error {
			c.Handler = mux
			c.HTTPListenAddr = "127.0.0.1:" + strconv.Itoa(a.port)
			c.NumWorkers = 2
			// Where the API server finds this kubelet.
			c.NodeSpec.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
			c.NodeSpec.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(a.port)
			return nil
		})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	bound := make(chan struct{})
	go func() { defer close(bound); a.bindPods(ctx, cs) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-bound
		a.removeAll()
	})
	require.NoError(t, n.WaitReady(ctx, time.Minute), "virtual-kubelet node did not become ready")
}

// bindPods binds every Pod that has no node to this one, as a scheduler would.
func (a *Agent) bindPods(ctx context.Context, cs kubernetes.Interface) {
	for ctx.Err() == nil {
		w, err := cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", "").String()})
		if err != nil {
			time.Sleep(100 * time.Millisecond) // the API server is stopping or restarting the watch
			continue
		}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) || p.DeletionTimestamp != nil {
				continue
			}
			_ = cs.CoreV1().Pods(p.Namespace).Bind(ctx, &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
				Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
			}, metav1.CreateOptions{})
		}
	}
}

func podKey(ns, name string) string { return ns + "/" + name }

// CreatePod pulls the Pod's image by its digest reference and runs it with
// the settings the Pod spec asks for, mapped the way a kubelet with a
// docker-like runtime maps them.
func (a *Agent) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	if len(pod.Spec.Containers) != 1 {
		return fmt.Errorf("the test agent runs Pods of one container, not %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	rc, err := a.docker.ImagePull(ctx, c.Image, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", c.Image, err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("pulling %s: %w", c.Image, err)
	}
	cfg, hc, err := dockerSettings(pod)
	if err != nil {
		return err
	}
	cfg.Labels = map[string]string{podLabel: podKey(pod.Namespace, pod.Name)}
	created, err := a.docker.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	if err != nil {
		return fmt.Errorf("creating the container of %s: %w", pod.Name, err)
	}
	key := podKey(pod.Namespace, pod.Name)
	a.mu.Lock()
	a.ctrs[key] = created.ID
	a.mu.Unlock()
	if err := a.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting the container of %s: %w", pod.Name, err)
	}
	now, started := metav1.Now(), true
	p := pod.DeepCopy()
	p.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "127.0.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: "docker://" + created.ID, Ready: true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	a.update(p)
	go a.waitExit(key, created.ID)
	return nil
}

// dockerSettings maps the Pod's container to docker's settings.
func dockerSettings(pod *corev1.Pod) (*container.Config, *container.HostConfig, error) {
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil {
		return nil, nil, errors.New("the test agent needs runAsUser and runAsGroup")
	}
	cfg := &container.Config{
		Image: c.Image, Cmd: c.Args, Entrypoint: c.Command,
		User:      fmt.Sprintf("%d:%d", *sc.RunAsUser, *sc.RunAsGroup),
		OpenStdin: c.Stdin, StdinOnce: c.StdinOnce, AttachStdin: c.Stdin, AttachStdout: true, AttachStderr: true,
	}
	hc := &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
		Privileged:     sc.Privileged != nil && *sc.Privileged,
		Tmpfs:          map[string]string{},
	}
	if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	if sc.Capabilities != nil {
		for _, d := range sc.Capabilities.Drop {
			hc.CapDrop = append(hc.CapDrop, string(d))
		}
		for _, ad := range sc.Capabilities.Add {
			hc.CapAdd = append(hc.CapAdd, string(ad))
		}
	}
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		hc.Memory = m.Value()
	}
	if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		hc.NanoCPUs = cpu.MilliValue() * 1e6
	}
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || v.EmptyDir.SizeLimit == nil {
				return nil, nil, fmt.Errorf("the test agent mounts only memory emptyDirs with a sizeLimit, not volume %s", v.Name)
			}
			hc.Tmpfs[vm.MountPath] = "size=" + strconv.FormatInt(v.EmptyDir.SizeLimit.Value(), 10)
		}
	}
	return cfg, hc, nil
}

// waitExit reports the container's exit as the container's terminated state.
func (a *Agent) waitExit(key, id string) {
	okc, errc := a.docker.ContainerWait(context.Background(), id, container.WaitConditionNotRunning)
	code := int32(-1)
	select {
	case r := <-okc:
		code = int32(r.StatusCode)
	case <-errc:
	}
	a.terminate(key, code, "Completed")
}

func (a *Agent) terminate(key string, code int32, reason string) {
	a.mu.Lock()
	p, ok := a.pods[key]
	a.mu.Unlock()
	if !ok || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Terminated != nil {
		return
	}
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	if code != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	st := &p.Status.ContainerStatuses[0]
	st.Ready, st.Started = false, new(bool)
	st.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.Now()}}
	a.update(p)
}

func (a *Agent) update(p *corev1.Pod) {
	a.mu.Lock()
	a.pods[podKey(p.Namespace, p.Name)] = p
	notify := a.notify
	a.mu.Unlock()
	if notify != nil {
		notify(p.DeepCopy())
	}
}

func (a *Agent) UpdatePod(context.Context, *corev1.Pod) error { return nil }

// DeletePod stops the container and reports it terminated.
func (a *Agent) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	a.mu.Lock()
	id, ok := a.ctrs[key]
	a.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s", key)
	}
	if err := a.docker.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil && !dockerclient.IsErrNotFound(err) {
		return err
	}
	a.terminate(key, 137, "Deleted")
	return nil
}

func (a *Agent) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pods[podKey(ns, name)]
	if !ok {
		return nil, errdefs.NotFoundf("pod %s/%s", ns, name)
	}
	return p.DeepCopy(), nil
}

func (a *Agent) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	p, err := a.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &p.Status, nil
}

func (a *Agent) GetPods(context.Context) ([]*corev1.Pod, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*corev1.Pod
	for _, p := range a.pods {
		out = append(out, p.DeepCopy())
	}
	return out, nil
}

// NotifyPods makes status changes reach the API server at once (without
// it, virtual-kubelet polls every few seconds).
func (a *Agent) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	a.mu.Lock()
	a.notify = f
	a.mu.Unlock()
}

// AttachToContainer serves pods/attach with docker attach: stdin is copied
// in and half-closed at its end (the container's stdinOnce then closes the
// server's stdin), stdout and stderr are demultiplexed out.
func (a *Agent) AttachToContainer(ctx context.Context, ns, pod, _ string, aio api.AttachIO) error {
	a.mu.Lock()
	id, ok := a.ctrs[podKey(ns, pod)]
	a.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s/%s", ns, pod)
	}
	hj, err := a.docker.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: aio.Stdin() != nil, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	defer hj.Close()
	if in := aio.Stdin(); in != nil {
		go func() {
			_, _ = io.Copy(hj.Conn, in)
			_ = hj.CloseWrite()
		}()
	}
	out := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(aio.Stdout(), aio.Stderr(), hj.Reader); out <- err }()
	select {
	case err := <-out:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *Agent) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errdefs.InvalidInput("the test agent does not exec")
}

func (a *Agent) GetContainerLogs(context.Context, string, string, string, api.ContainerLogOpts) (io.ReadCloser, error) {
	return nil, errdefs.InvalidInput("the test agent keeps no logs")
}

func (a *Agent) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("the test agent keeps no stats")
}

func (a *Agent) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errdefs.InvalidInput("the test agent keeps no metrics")
}

func (a *Agent) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errdefs.InvalidInput("the test agent does not forward ports")
}

// Running lists the Pods (namespace/name) whose containers run.
func (a *Agent) Running(t *testing.T) []string {
	t.Helper()
	list, err := a.docker.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", podLabel))})
	require.NoError(t, err)
	var out []string
	for _, c := range list {
		out = append(out, c.Labels[podLabel])
	}
	return out
}

// removeAll removes the containers this agent created.
func (a *Agent) removeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range a.ctrs {
		_ = a.docker.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
	}
}
