//go:build kyverno

// The Kyverno CLI cases run with `make test-kyverno` (build tag kyverno), not
// with `make test`: the CLI takes ten minutes or more to build, so CI runs them
// only when `hack/dev-env kyverno` has cached it.

package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// kyvernoCLI finds the Kyverno CLI: DRYDOCK_KYVERNO_BIN (make test-kyverno
// sets it from `hack/dev-env kyverno-bin`), else the cache hack/dev-env
// builds it into.
func kyvernoCLI(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("DRYDOCK_KYVERNO_BIN")
	if bin == "" {
		cache, err := os.UserCacheDir()
		require.NoError(t, err)
		bin = filepath.Join(cache, "drydock", "kyverno-v1.19.1", "kubectl-kyverno")
	}
	if _, err := os.Stat(bin); err != nil {
		testenv.Unavailable(t, "no Kyverno CLI (%v); build it with `hack/dev-env kyverno` (a long cold build: 3,000 packages)", err)
	}
	return bin
}

// kyvernoCase is one Pod and the result each rule of the generated
// ClusterPolicy must give it.
type kyvernoCase struct {
	name      string // the Pod's name, which Kyverno reports
	image     string
	weaken    func(p *corev1.Pod)
	signature string // drydock-signature (verifyImages): pass, fail, or "" for not stated
	podSpec   string // drydock-pod-spec (validate.cel): pass or fail
	want      string // in Kyverno's message for the rule that fails
}

// results are the case's expected results per rule, as kyverno-test.yaml states them.
func (c kyvernoCase) results() [][2]string {
	var rs [][2]string
	if c.signature != "" {
		rs = append(rs, [2]string{"drydock-signature", c.signature})
	}
	return append(rs, [2]string{"drydock-pod-spec", c.podSpec})
}

// kyvernoRow is one row of `kubectl-kyverno test -o json --detailed-results`.
type kyvernoRow struct {
	Policy   string `json:"POLICY"`
	Rule     string `json:"RULE"`
	Resource string `json:"RESOURCE"`
	Result   string `json:"RESULT"` // Pass when the rule gave the expected result
	Reason   string `json:"REASON"`
	Message  string `json:"Message"`
}

// TestKyvernoCLI runs the ClusterPolicy of `drydock kube policy --for
// kyverno` through the Kyverno CLI's own `kyverno test` over Pods from
// `drydock kube manifest --kind pod`: the signed and attested image passes
// both rules, each weakened copy of its Pod fails the Pod-spec rule with
// that setting's message, unsigned, wrong-key and unattested images fail the
// signature rule — and, unlike drydock's verifier, an image copied with its
// signature into another repository passes it.
func TestKyvernoCLI(t *testing.T) {
	bin := kyvernoCLI(t)
	reg := testenv.Registry(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("%s/kube-kyverno-%d", reg, time.Now().UnixNano())
	key, other := newSigner(t), newSigner(t)
	provenance := []byte(`{"buildDefinition":{"buildType":"https://drydock.dev/test"}}`)

	p := policies.Default()
	signed := pushLabelled(t, prefix+"/server", p, key)
	require.NoError(t, attest.AttestPredicate(ctx, signed, key, PredicateSLSAProvenanceV1, provenance))
	wrong := pushLabelled(t, prefix+"/wrongkey", p, other)
	require.NoError(t, attest.AttestPredicate(ctx, wrong, other, PredicateSLSAProvenanceV1, provenance))
	unsigned := pushLabelled(t, prefix+"/unsigned", p, nil)
	unattested := pushLabelled(t, prefix+"/unattested", p, key)
	moved := moveWithSignature(t, signed, prefix+"/elsewhere")
	h := strings.TrimPrefix(signed.DigestStr(), "sha256:")
	att, err := remoteCopyTag(signed, prefix+"/elsewhere", "sha256-"+h+".att")
	require.NoError(t, err, att)
	tagged := signed.Context().Tag("1")
	img, err := remote.Image(signed)
	require.NoError(t, err)
	require.NoError(t, remote.Tag(tagged, img))

	sc := func(p *corev1.Pod) *corev1.SecurityContext { return p.Spec.Containers[0].SecurityContext }
	cases := []kyvernoCase{
		{name: "signed", image: signed.String(), signature: "pass", podSpec: "pass"},
		{name: "unsigned", image: unsigned.String(), signature: "fail", podSpec: "pass",
			want: ".attestors[0].entries[0].keys: no signatures found"},
		{name: "wrong-key", image: wrong.String(), signature: "fail", podSpec: "pass",
			want: ".attestors[0].entries[0].keys: no matching signatures: invalid signature when validating ASN.1 encoded signature"},
		{name: "unattested", image: unattested.String(), signature: "fail", podSpec: "pass",
			want: "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: no matching attestations"},
		// The gap the issue reports: Kyverno does not bind a signature to the
		// repository it was made for; drydock's verifier and webhook refuse this.
		{name: "moved-signature", image: moved.String(), signature: "pass", podSpec: "pass"},

		// One weakened copy of the signed Pod per setting the validate rule checks.
		// For a tag, Kyverno reports drydock-signature twice: pass from
		// verifyImages (it resolves the tag and verifies that digest) and fail
		// from verifyDigest ("missing digest for …"); kyverno-test.yaml can
		// state only one result per rule, so it states the Pod-spec rule's.
		{name: "weak-tag", image: signed.String(), podSpec: "fail",
			weaken: func(p *corev1.Pod) { p.Spec.Containers[0].Image = tagged.String() },
			want:   "every container image must be pinned by digest (image@sha256:...); drydock kube manifest prints it"},
		{name: "weak-run-as-non-root", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).RunAsNonRoot = ptr(false) },
			want:   "every container must set securityContext.runAsNonRoot: true"},
		{name: "weak-run-as-user", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).RunAsUser = ptr(int64(0)) },
			want:   "every container must set a non-root securityContext.runAsUser and runAsGroup (the label's user, e.g. 65532)"},
		{name: "weak-run-as-group", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).RunAsGroup = ptr(int64(0)) },
			want:   "every container must set a non-root securityContext.runAsUser and runAsGroup (the label's user, e.g. 65532)"},
		{name: "weak-writable-root", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).ReadOnlyRootFilesystem = ptr(false) },
			want:   "every container must set securityContext.readOnlyRootFilesystem: true"},
		{name: "weak-privilege-escalation", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).AllowPrivilegeEscalation = ptr(true) },
			want:   "every container must set securityContext.allowPrivilegeEscalation: false"},
		{name: "weak-privileged", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).Privileged = ptr(true) },
			want:   "no container may be privileged"},
		{name: "weak-drop", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).Capabilities.Drop = []corev1.Capability{"NET_RAW"} },
			want:   "every container must drop capabilities [ALL]"},
		{name: "weak-add", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { sc(p).Capabilities.Add = []corev1.Capability{"NET_ADMIN"} },
			want:   "no container may add capabilities"},
		{name: "weak-seccomp", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) {
				sc(p).SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			},
			want: "every container must run with seccompProfile type RuntimeDefault"},
		{name: "weak-limits", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { p.Spec.Containers[0].Resources = corev1.ResourceRequirements{} },
			want:   "every container must set resources.limits.memory and resources.limits.cpu"},
		{name: "weak-host-port", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080}}
			},
			want: "no container may use a hostPort"},
		{name: "weak-token", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr(true) },
			want:   "the Pod must set automountServiceAccountToken: false"},
		{name: "weak-host-pid", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { p.Spec.HostPID = true },
			want:   "the Pod may not use the host's network, PID or IPC namespace"},
		{name: "weak-disk-empty-dir", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.Medium = corev1.StorageMediumDefault },
			want:   "volumes must be memory emptyDirs with a sizeLimit (the label's tmpfs) or PersistentVolumeClaims (its mounts)"},
		{name: "weak-ephemeral", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) {
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debug", Image: signed.String(),
				}}}
			},
			want: "ephemeral containers are refused: they would run outside the label's settings"},
		{name: "weak-init-container", image: signed.String(), signature: "pass", podSpec: "fail",
			weaken: func(p *corev1.Pod) {
				ic := *p.Spec.Containers[0].DeepCopy()
				ic.Name, ic.Stdin = "init", false
				ic.SecurityContext.ReadOnlyRootFilesystem = ptr(false)
				p.Spec.InitContainers = []corev1.Container{ic}
			},
			want: "every container must set securityContext.readOnlyRootFilesystem: true"},
	}

	dir := t.TempDir()
	pub, err := cryptoutils.MarshalPublicKeyToPEM(mustPublic(t, key))
	require.NoError(t, err)
	writeFile(t, dir, "policy.yaml", write(t, KyvernoPolicy(string(pub), []string{prefix + "/**"})))
	writeFile(t, dir, "kyverno-test.yaml", kyvernoTestFile(t, cases))
	var pods bytes.Buffer
	for _, tc := range cases {
		ref, err := name.ParseReference(tc.image)
		require.NoError(t, err)
		objs, err := Manifests(tc.image, ref.Context().String(), p, WithName(tc.name), WithNamespace("mcp"), WithKind(KindPod))
		require.NoError(t, err)
		pod := objs[0].(*corev1.Pod)
		if tc.weaken != nil {
			tc.weaken(pod)
		}
		if pods.Len() > 0 {
			pods.WriteString("---\n")
		}
		pods.Write(write(t, pod))
	}
	writeFile(t, dir, "pods.yaml", pods.Bytes())

	out, runErr := exec.Command(bin, "test", dir, "--output-format", "json", "--detailed-results", "--remove-color").CombinedOutput()
	// Kyverno prints a row per engine response: a rule can have several
	// (verifyImages reports the attestation and the signature apart), and a
	// rule absent from a response gets an "Excluded" row, which says nothing.
	got := map[[2]string][]kyvernoRow{}
	for _, r := range kyvernoRows(t, out) {
		if r.Reason != "Excluded" {
			k := [2]string{path.Base(r.Resource), r.Rule}
			got[k] = append(got[k], r)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, want := range tc.results() {
				rule, result := want[0], want[1]
				rows := got[[2]string{tc.name, rule}]
				require.NotEmpty(t, rows, "Kyverno reported no result for rule %s; its output:\n%s", rule, out)
				var msgs []string
				for _, r := range rows {
					require.Equal(t, "Pass", r.Result, "rule %s: expected %s: %s (%s)", rule, result, r.Reason, r.Message)
					msgs = append(msgs, r.Message)
				}
				switch {
				case result == "fail":
					require.Contains(t, strings.Join(msgs, "\n"), tc.want, "rule %s", rule)
				case rule == "drydock-signature":
					require.Contains(t, msgs, "image verified")
				}
			}
		})
	}
	require.NoError(t, runErr, "%s", out)
}

// kyvernoTestFile is the kyverno-test.yaml that names each Pod's expected
// result per rule (namespace mcp carries the label the policy selects).
func kyvernoTestFile(t *testing.T, cases []kyvernoCase) []byte {
	t.Helper()
	var results []any
	for _, tc := range cases {
		for _, r := range tc.results() {
			results = append(results, map[string]any{
				"policy": PolicyName, "rule": r[0], "kind": "Pod", "resources": []string{"mcp/" + tc.name}, "result": r[1],
			})
		}
	}
	b, err := yaml.Marshal(map[string]any{
		"apiVersion": "cli.kyverno.io/v1alpha1",
		"kind":       "Test",
		"metadata":   map[string]any{"name": "drydock"},
		"policies":   []string{"policy.yaml"},
		"resources":  []string{"pods.yaml"},
		"results":    results,
		"values": map[string]any{"namespaceSelector": []any{map[string]any{
			"name": "mcp", "labels": map[string]string{EnforceLabel: "true"},
		}}},
	})
	require.NoError(t, err)
	return b
}

// kyvernoRows reads the JSON array `kyverno test -o json` prints between
// its progress lines.
func kyvernoRows(t *testing.T, out []byte) []kyvernoRow {
	t.Helper()
	start, end := bytes.Index(out, []byte("\n[")), bytes.LastIndex(out, []byte("\n]"))
	require.True(t, start >= 0 && end > start, "no JSON results in Kyverno's output:\n%s", out)
	var rows []kyvernoRow
	require.NoError(t, json.Unmarshal(out[start+1:end+2], &rows), "%s", out)
	return rows
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
}
