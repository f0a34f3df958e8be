package kube

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newSigner(t *testing.T) signature.SignerVerifier {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	require.NoError(t, err)
	return sv
}

// pushLabelled pushes a small random image labelled with p to repo by
// digest, signs it with signer (unless nil) and returns the digest reference.
func pushLabelled(t *testing.T, repo string, p *policies.Policy, signer signature.Signer) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	label, err := p.Encode()
	require.NoError(t, err)
	img, err = mutate.Config(img, v1.Config{User: p.User, Labels: map[string]string{policies.LabelKey: label}})
	require.NoError(t, err)
	dg, err := img.Digest()
	require.NoError(t, err)
	r, err := name.NewRepository(repo)
	require.NoError(t, err)
	d := r.Digest(dg.String())
	require.NoError(t, remote.Write(d, img))
	if signer != nil {
		require.NoError(t, attest.Sign(context.Background(), d, signer))
	}
	return d
}

// moveWithSignature copies the image and its cosign signature tag into
// repository to, as a mirror that copies signatures would.
func moveWithSignature(t *testing.T, d name.Digest, to string) name.Digest {
	t.Helper()
	dst, err := name.NewRepository(to)
	require.NoError(t, err)
	img, err := remote.Image(d)
	require.NoError(t, err)
	moved := dst.Digest(d.DigestStr())
	require.NoError(t, remote.Write(moved, img))
	h, err := v1.NewHash(d.DigestStr())
	require.NoError(t, err)
	sigTag := fmt.Sprintf("%s-%s.sig", h.Algorithm, h.Hex)
	sig, err := remote.Image(d.Context().Tag(sigTag))
	require.NoError(t, err)
	require.NoError(t, remote.Write(dst.Tag(sigTag), sig))
	return moved
}

// serveWebhook serves w over TLS on a free loopback port with a
// certificate from ca and returns its URL.
func serveWebhook(t *testing.T, w http.Handler, ca *testenv.CA) string {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue("127.0.0.1")
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + l.Addr().(*net.TCPAddr).String() + "/validate"
}

func TestWebhookOnAPIServer(t *testing.T) {
	reg := testenv.Registry(t)
	c := newCluster(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("%s/kube-webhook-%d", reg, time.Now().UnixNano())
	key, other := newSigner(t), newSigner(t)

	p := policies.Default()
	signed := pushLabelled(t, prefix+"/server", p, key)
	unsigned := pushLabelled(t, prefix+"/unsigned", p, nil)
	wrongKey := pushLabelled(t, prefix+"/wrongkey", p, other)
	moved := moveWithSignature(t, signed, prefix+"/elsewhere")

	ca, err := testenv.NewCA()
	require.NoError(t, err)
	url := serveWebhook(t, NewWebhook(launch.WithVerifier(key), launch.WithFloor(policies.StrictFloor())), ca)
	fail, none := admissionregv1.Fail, admissionregv1.SideEffectClassNone
	_, err = c.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "drydock"},
		Webhooks: []admissionregv1.ValidatingWebhook{{
			Name:                    "pods.drydock.dev",
			ClientConfig:            admissionregv1.WebhookClientConfig{URL: &url, CABundle: ca.CertPEM},
			Rules:                   []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Create}, Rule: admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{EnforceLabel: "true"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr(int32(30)),
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	pod := func(image string) *corev1.Pod {
		objs, err := Manifests(image, "server", p, WithNamespace(c.ns), WithKind(KindPod))
		require.NoError(t, err)
		return objs[0].(*corev1.Pod)
	}
	create := func(p *corev1.Pod) error {
		_, err := c.cs.CoreV1().Pods(c.ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	// The configuration takes effect once the API server's informer has it:
	// poll with a Pod the webhook must deny.
	deadline := time.Now().Add(time.Minute)
	for create(pod(unsigned.String())) == nil {
		require.True(t, time.Now().Before(deadline), "the webhook configuration never took effect")
		time.Sleep(100 * time.Millisecond)
	}

	require.NoError(t, create(pod(signed.String())), "the signed image under its label's Pod spec must be admitted")

	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"unsigned", pod(unsigned.String()), `no signature found (check "signature"); sign it with attest.Sign`},
		{"wrong key", pod(wrongKey.String()), "no signature was made by the given public key"},
		{"signature moved with its image", pod(moved.String()), "elsewhere"},
		{"tag", pod(prefix + "/server:1"), "is not pinned by digest (image@sha256:...); drydock kube manifest prints it"},
		{"writable root filesystem", func() *corev1.Pod {
			p := pod(signed.String())
			p.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr(false)
			return p
		}(), "securityContext differs from the label's translation"},
		{"memory above the label", func() *corev1.Pod {
			p := pod(signed.String())
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
			return p
		}(), "resources.limits.memory must be set and at most 512Mi (the label's)"},
		{"larger tmpfs", func() *corev1.Pod {
			p := pod(signed.String())
			p.Spec.Volumes[0].EmptyDir.SizeLimit = ptr(resource.MustParse("1Gi"))
			return p
		}(), "/tmp must be an emptyDir with medium Memory and a sizeLimit of at most 64Mi (the label's tmpfs)"},
		{"env not allowed", func() *corev1.Pod {
			p := pod(signed.String())
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_SECRET_ACCESS_KEY", Value: "x"}}
			return p
		}(), "environment variable AWS_SECRET_ACCESS_KEY is not in the label's env.allow []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := create(tc.pod)
			require.Error(t, err, "admitted")
			require.Contains(t, err.Error(), `admission webhook "pods.drydock.dev" denied the request`)
			require.Contains(t, err.Error(), tc.want)
		})
	}

	t.Run("latency", func(t *testing.T) {
		// Time from a real create (not a dry run) to the API server's answer,
		// which includes the webhook's online verification.
		var ds []time.Duration
		for i := range 9 {
			p := pod(signed.String())
			p.Name = fmt.Sprintf("latency-%d", i)
			t0 := time.Now()
			_, err := c.cs.CoreV1().Pods(c.ns).Create(ctx, p, metav1.CreateOptions{})
			ds = append(ds, time.Since(t0))
			require.NoError(t, err)
		}
		slices.Sort(ds)
		t.Logf("create → admission decision with the webhook: median %v (min %v, max %v, n=%d)", ds[len(ds)/2], ds[0], ds[len(ds)-1], len(ds))
	})
}

func mustPublic(t *testing.T, s signature.SignerVerifier) crypto.PublicKey {
	t.Helper()
	pk, err := s.PublicKey()
	require.NoError(t, err)
	return pk
}

// remoteCopyTag copies tag of d's repository into repository to.
func remoteCopyTag(d name.Digest, to, tag string) (string, error) {
	img, err := remote.Image(d.Context().Tag(tag))
	if err != nil {
		return "", err
	}
	dst, err := name.NewRepository(to)
	if err != nil {
		return "", err
	}
	return dst.Tag(tag).String(), remote.Write(dst.Tag(tag), img)
}
