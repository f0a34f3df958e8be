package kube

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/drydock-dev/drydock/launch"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"
)

// RunOption configures Run.
type RunOption func(*runOptions) error

type runOptions struct {
	verify                 []launch.Option
	kubeconfig, kubeCtx    string
	namespace              string
	config                 *rest.Config
	stdin                  io.Reader
	stdout, stderr         io.Writer
	startTimeout, stopWait time.Duration
	started                func(pod string)
}

// WithVerify sets how the image is verified (launch.Verify's options: the
// verifier, the floor), exactly as for drydock run. Required.
func WithVerify(opts ...launch.Option) RunOption {
	return func(o *runOptions) error { o.verify = append(o.verify, opts...); return nil }
}

// WithKubeconfig reads the cluster from file path. Default: $KUBECONFIG,
// else ~/.kube/config (kubectl's rules).
func WithKubeconfig(path string) RunOption {
	return func(o *runOptions) error { o.kubeconfig = path; return nil }
}

// WithContext picks the kubeconfig context. Default: its current-context.
func WithContext(name string) RunOption {
	return func(o *runOptions) error { o.kubeCtx = name; return nil }
}

// WithRunNamespace sets the Pod's namespace. Default: the context's
// namespace, else "default".
func WithRunNamespace(ns string) RunOption {
	return func(o *runOptions) error { o.namespace = ns; return nil }
}

// WithRESTConfig talks to the cluster with c instead of a kubeconfig.
func WithRESTConfig(c *rest.Config) RunOption {
	return func(o *runOptions) error { o.config = rest.CopyConfig(c); return nil }
}

// WithRunStdio sets the MCP stream (in, out) and where the server's stderr
// goes. Default: no input, output discarded.
func WithRunStdio(in io.Reader, out, errw io.Writer) RunOption {
	return func(o *runOptions) error { o.stdin, o.stdout, o.stderr = in, out, errw; return nil }
}

// WithStartTimeout bounds the wait for the container to run (scheduling and
// the image pull included). Default: 5 minutes.
func WithStartTimeout(d time.Duration) RunOption {
	return func(o *runOptions) error { o.startTimeout = d; return nil }
}

// withStarted is called with the Pod's name once it runs (tests).
func withStarted(f func(pod string)) RunOption {
	return func(o *runOptions) error { o.started = f; return nil }
}

// Run verifies ref like drydock run, creates the Pod that `kube manifest
// --kind pod` prints (stdin, stdinOnce, never restarted, a generated name)
// behind its NetworkPolicy, waits until the container runs, attaches
// stdin/stdout/stderr through the API server and pumps the MCP stream until
// stdin ends or the container exits. The Pod and NetworkPolicy are deleted
// on every way out (ctx cancelled by a signal included). It returns the
// container's exit code.
func Run(ctx context.Context, ref string, opts ...RunOption) (int, error) {
	o := &runOptions{stdin: eofReader{}, stdout: io.Discard, stderr: io.Discard, startTimeout: 5 * time.Minute, stopWait: 30 * time.Second}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return 0, err
		}
	}
	if len(o.verify) == 0 {
		return 0, errors.New("kube.Run needs WithVerify: an image is never run unverified")
	}
	// Verify before touching the cluster: a refused image creates nothing.
	res, err := launch.Verify(ctx, ref, o.verify...)
	if err != nil {
		return 0, err
	}
	c, err := o.client()
	if err != nil {
		return 0, err
	}
	pod, np, err := sessionObjects(res, c.namespace)
	if err != nil {
		return 0, err
	}
	s := &session{c: c, o: o, pod: pod.Name}
	defer s.cleanup(ctx)
	if err := s.create(ctx, np, pod); err != nil {
		return 0, err
	}
	if err := s.waitRunning(ctx); err != nil {
		return 0, err
	}
	if o.started != nil {
		o.started(pod.Name)
	}
	if err := s.attach(ctx); err != nil {
		return 0, err
	}
	return s.exitCode(ctx)
}

// sessionObjects is the translation `kube manifest --kind pod` prints under a
// fresh name, with the stdio session's settings: the container's stdin closes
// when drydock detaches (the server sees EOF and exits) and nothing restarts
// it into a session nobody is attached to.
func sessionObjects(res *launch.Verified, ns string) (*corev1.Pod, *networkingv1.NetworkPolicy, error) {
	name := sessionName(DefaultName(res.Digest.Context().String()))
	objs, err := FromVerified(res, WithKind(KindPod), WithName(name), WithNamespace(ns))
	if err != nil {
		return nil, nil, err
	}
	pod, np := objs[0].(*corev1.Pod), objs[1].(*networkingv1.NetworkPolicy)
	pod.Spec.Containers[0].StdinOnce = true
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	return pod, np, nil
}

// sessionName appends a random suffix to base, as metadata.generateName
// would; drydock picks it so that the NetworkPolicy selecting the Pod can
// exist before the Pod does.
func sessionName(base string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // the API server's generateName alphabet
	b := make([]byte, 5)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	// A DNS-1123 label: at most 63 characters with the suffix.
	return base[:min(len(base), 57)] + "-" + string(b)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// client is the minimal REST access a session needs: core/v1 Pods (create,
// watch, attach, delete) and networking/v1 NetworkPolicies (create, delete).
type client struct {
	cfg        *rest.Config
	core, netw *rest.RESTClient
	namespace  string
}

func (o *runOptions) client() (*client, error) {
	cfg, ns := o.config, o.namespace
	if cfg == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = o.kubeconfig
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.kubeCtx})
		var err error
		if cfg, err = cc.ClientConfig(); err != nil {
			return nil, fmt.Errorf("reading the kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
		}
		if ns == "" {
			if ns, _, err = cc.Namespace(); err != nil {
				return nil, fmt.Errorf("reading the kubeconfig's namespace: %w", err)
			}
		}
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := networkingv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme).WithoutConversion()
	rc := func(gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion, c.APIPath, c.NegotiatedSerializer = &gv, apiPath, codecs
		if c.UserAgent == "" {
			c.UserAgent = "drydock"
		}
		return rest.RESTClientFor(c)
	}
	core, err := rc(corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, fmt.Errorf("configuring the Kubernetes client: %w", err)
	}
	netw, err := rc(networkingv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, fmt.Errorf("configuring the Kubernetes client: %w", err)
	}
	return &client{cfg: cfg, core: core, netw: netw, namespace: ns}, nil
}

// session is one Pod and its NetworkPolicy.
type session struct {
	c                    *client
	o                    *runOptions
	pod                  string
	createdNP, createdPd bool
	podRV                string
}

// create makes the NetworkPolicy first: the Pod never runs unconfined.
func (s *session) create(ctx context.Context, np *networkingv1.NetworkPolicy, pod *corev1.Pod) error {
	ns := s.c.namespace
	if err := s.c.netw.Post().Namespace(ns).Resource("networkpolicies").Body(np).Do(ctx).Error(); err != nil {
		return fmt.Errorf("creating NetworkPolicy %s/%s: %w", ns, np.Name, err)
	}
	s.createdNP = true
	var got corev1.Pod
	if err := s.c.core.Post().Namespace(ns).Resource("pods").Body(pod).Do(ctx).Into(&got); err != nil {
		return fmt.Errorf("creating Pod %s/%s: %w", ns, pod.Name, err)
	}
	s.createdPd, s.podRV = true, got.ResourceVersion
	return nil
}

// watchPod watches the session's Pod from resourceVersion rv.
func (s *session) watchPod(ctx context.Context, rv string) (watch.Interface, error) {
	return s.c.core.Get().Namespace(s.c.namespace).Resource("pods").
		VersionedParams(&metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", s.pod).String(),
			ResourceVersion: rv, Watch: true, AllowWatchBookmarks: false,
		}, metav1.ParameterCodec).Watch(ctx)
}

// until watches the Pod until done says it is finished with it.
func (s *session) until(ctx context.Context, done func(*corev1.Pod) (bool, error)) error {
	w, err := s.watchPod(ctx, s.podRV)
	if err != nil {
		return fmt.Errorf("watching Pod %s/%s: %w", s.c.namespace, s.pod, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watching Pod %s/%s: the API server closed the watch", s.c.namespace, s.pod)
			}
			switch ev.Type {
			case watch.Error:
				return fmt.Errorf("watching Pod %s/%s: %w", s.c.namespace, s.pod, apierrors.FromObject(ev.Object))
			case watch.Deleted:
				return fmt.Errorf("pod %s/%s was deleted by someone else", s.c.namespace, s.pod)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			s.podRV = p.ResourceVersion
			if fin, err := done(p); fin || err != nil {
				return err
			}
		}
	}
}

// waitRunning waits until the server's container runs, or reports why it
// will not.
func (s *session) waitRunning(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, s.o.startTimeout)
	defer cancel()
	var last string
	err := s.until(wctx, func(p *corev1.Pod) (bool, error) {
		st := containerStatus(p)
		switch {
		case st != nil && st.State.Running != nil:
			return true, nil
		case st != nil && st.State.Terminated != nil:
			t := st.State.Terminated
			return true, fmt.Errorf("pod %s/%s: the server exited with code %d (%s) before drydock could attach: %s", p.Namespace, p.Name, t.ExitCode, t.Reason, t.Message)
		case p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded:
			return true, fmt.Errorf("pod %s/%s ended (%s: %s) before its container ran", p.Namespace, p.Name, p.Status.Reason, p.Status.Message)
		case st != nil && st.State.Waiting != nil && st.State.Waiting.Reason != "" && st.State.Waiting.Reason != "ContainerCreating":
			last = st.State.Waiting.Reason + ": " + st.State.Waiting.Message
		default:
			last = podPendingReason(p)
		}
		return false, nil
	})
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("pod %s/%s did not start within %s (last state: %s); see kubectl describe pod", s.c.namespace, s.pod, s.o.startTimeout, last)
	}
	return err
}

func podPendingReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Reason != "" {
			return fmt.Sprintf("%s %s: %s", c.Type, c.Reason, c.Message)
		}
	}
	if p.Spec.NodeName == "" {
		return "not scheduled to a node"
	}
	return string(p.Status.Phase)
}

func containerStatus(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == ContainerName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// attach pumps the MCP stream over pods/attach: WebSocket (v5 of the
// remote-command protocol, which can half-close stdin) with SPDY as the
// fallback for API servers before 1.30, as kubectl does.
func (s *session) attach(ctx context.Context) error {
	q := url.Values{"container": {ContainerName}, "stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}
	u := s.c.core.Post().Namespace(s.c.namespace).Resource("pods").Name(s.pod).SubResource("attach").URL()
	u.RawQuery = q.Encode()
	ws, err := remotecommand.NewWebSocketExecutor(s.c.cfg, http.MethodGet, u.String())
	if err != nil {
		return fmt.Errorf("attaching to Pod %s/%s: %w", s.c.namespace, s.pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(s.c.cfg, http.MethodPost, u)
	if err != nil {
		return fmt.Errorf("attaching to Pod %s/%s: %w", s.c.namespace, s.pod, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return fmt.Errorf("attaching to Pod %s/%s: %w", s.c.namespace, s.pod, err)
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: s.o.stdin, Stdout: s.o.stdout, Stderr: s.o.stderr})
	if err != nil {
		return fmt.Errorf("attached to Pod %s/%s: %w", s.c.namespace, s.pod, err)
	}
	return nil
}

// exitCode waits (bounded) for the kubelet to report how the server ended:
// with stdinOnce it exits on its own once the stream is closed.
func (s *session) exitCode(ctx context.Context) (int, error) {
	wctx, cancel := context.WithTimeout(ctx, s.o.stopWait)
	defer cancel()
	code := 0
	err := s.until(wctx, func(p *corev1.Pod) (bool, error) {
		if st := containerStatus(p); st != nil && st.State.Terminated != nil {
			code = int(st.State.Terminated.ExitCode)
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return 0, fmt.Errorf("pod %s/%s: the stream ended but the server's exit was not reported within %s: %w", s.c.namespace, s.pod, s.o.stopWait, err)
	}
	return code, nil
}

// cleanup deletes what create made, even after ctx was cancelled, and waits
// until the Pod is gone (the kubelet has stopped the container).
func (s *session) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.stopWait)
	defer cancel()
	ns := s.c.namespace
	if s.createdPd {
		grace := int64(5)
		err := s.c.core.Delete().Namespace(ns).Resource("pods").Name(s.pod).Body(&metav1.DeleteOptions{GracePeriodSeconds: &grace}).Do(ctx).Error()
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			fmt.Fprintf(s.o.stderr, "drydock: deleting Pod %s/%s failed (%v); delete it with kubectl delete pod -n %s %s\n", ns, s.pod, err, ns, s.pod)
		default:
			if err := s.waitGone(ctx); err != nil {
				fmt.Fprintf(s.o.stderr, "drydock: Pod %s/%s is still being deleted (%v); check it with kubectl get pod -n %s %s\n", ns, s.pod, err, ns, s.pod)
			}
		}
	}
	if s.createdNP {
		err := s.c.netw.Delete().Namespace(ns).Resource("networkpolicies").Name(s.pod).Do(ctx).Error()
		if err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(s.o.stderr, "drydock: deleting NetworkPolicy %s/%s failed (%v); delete it with kubectl delete networkpolicy -n %s %s\n", ns, s.pod, err, ns, s.pod)
		}
	}
}

// waitGone waits for the Pod's DELETED event (or a 404).
func (s *session) waitGone(ctx context.Context) error {
	var p corev1.Pod
	err := s.c.core.Get().Namespace(s.c.namespace).Resource("pods").Name(s.pod).Do(ctx).Into(&p)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	w, err := s.watchPod(ctx, p.ResourceVersion)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return errors.New("the API server closed the watch")
			}
			if ev.Type == watch.Deleted {
				return nil
			}
		}
	}
}
