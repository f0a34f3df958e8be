package kube

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/drydock-dev/drydock/internal/inputerr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"strconv"
)

// Admission policy flavours printed by `drydock kube policy --for`.
const (
	ForPolicyController = "policy-controller"
	ForKyverno          = "kyverno"
	ForCEL              = "cel"
)

// EnforceLabel is the namespace label that turns the Pod-spec policy on: a
// cluster-wide rule would also refuse kube-system's Pods.
const EnforceLabel = "drydock.dev/enforce"

// PolicyName names every generated admission object.
const PolicyName = "drydock"

// PredicateSLSAProvenanceV1 is the attestation drydock harden signs (attest).
const PredicateSLSAProvenanceV1 = "https://slsa.dev/provenance/v1"

// Rule is one Pod-spec requirement in CEL over `object` (a Pod) and
// `variables.containers` (its containers and init containers).
type Rule struct {
	Name       string
	Expression string
	Message    string
}

// PodRules are the label's non-negotiable settings (policies.Validate) and
// the manifest's shape, as CEL: what holds for every drydock-signed image.
// The values of one image's label (memory, tmpfs sizes) are the webhook's
// part, which reads the label.
func PodRules() []Rule {
	const sc = "has(c.securityContext)"
	each := func(cond string) string { return "variables.containers.all(c, " + cond + ")" }
	return []Rule{
		{"digest", each(`c.image.matches('@sha256:[0-9a-f]{64}$')`),
			"every container image must be pinned by digest (image@sha256:...); drydock kube manifest prints it"},
		{"runAsNonRoot", each(sc + " && has(c.securityContext.runAsNonRoot) && c.securityContext.runAsNonRoot"),
			"every container must set securityContext.runAsNonRoot: true"},
		{"runAsUser", each(sc + " && has(c.securityContext.runAsUser) && c.securityContext.runAsUser > 0 && has(c.securityContext.runAsGroup) && c.securityContext.runAsGroup > 0"),
			"every container must set a non-root securityContext.runAsUser and runAsGroup (the label's user, e.g. 65532)"},
		{"readOnlyRootFilesystem", each(sc + " && has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem"),
			"every container must set securityContext.readOnlyRootFilesystem: true"},
		{"allowPrivilegeEscalation", each(sc + " && has(c.securityContext.allowPrivilegeEscalation) && !c.securityContext.allowPrivilegeEscalation"),
			"every container must set securityContext.allowPrivilegeEscalation: false"},
		{"privileged", each("!" + sc + " || !has(c.securityContext.privileged) || !c.securityContext.privileged"),
			"no container may be privileged"},
		{"dropAll", each(sc + " && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) && c.securityContext.capabilities.drop == ['ALL']"),
			"every container must drop capabilities [ALL]"},
		{"noAddedCapabilities", each("!" + sc + " || !has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add) || size(c.securityContext.capabilities.add) == 0"),
			"no container may add capabilities"},
		{"seccomp", each("(" + sc + " && has(c.securityContext.seccompProfile)) ? c.securityContext.seccompProfile.type == 'RuntimeDefault' : " +
			"(has(object.spec.securityContext) && has(object.spec.securityContext.seccompProfile) && object.spec.securityContext.seccompProfile.type == 'RuntimeDefault')"),
			"every container must run with seccompProfile type RuntimeDefault"},
		{"limits", each("has(c.resources) && has(c.resources.limits) && 'memory' in c.resources.limits && 'cpu' in c.resources.limits"),
			"every container must set resources.limits.memory and resources.limits.cpu"},
		{"hostPorts", each("!has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)"),
			"no container may use a hostPort"},
		{"serviceAccountToken", "has(object.spec.automountServiceAccountToken) && object.spec.automountServiceAccountToken == false",
			"the Pod must set automountServiceAccountToken: false"},
		{"hostNamespaces", "!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && !(has(object.spec.hostPID) && object.spec.hostPID) && !(has(object.spec.hostIPC) && object.spec.hostIPC)",
			"the Pod may not use the host's network, PID or IPC namespace"},
		{"volumes", "!has(object.spec.volumes) || object.spec.volumes.all(v, (has(v.emptyDir) && has(v.emptyDir.medium) && v.emptyDir.medium == 'Memory' && has(v.emptyDir.sizeLimit)) || has(v.persistentVolumeClaim))",
			"volumes must be memory emptyDirs with a sizeLimit (the label's tmpfs) or PersistentVolumeClaims (its mounts)"},
		{"ephemeralContainers", "!has(object.spec.ephemeralContainers) || size(object.spec.ephemeralContainers) == 0",
			"ephemeral containers are refused: they would run outside the label's settings"},
	}
}

// containersVar joins containers and init containers for the rules.
const containersVar = "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])"

// CELPolicy is the built-in ValidatingAdmissionPolicy (no webhook) that
// requires PodRules of every Pod in namespaces labelled EnforceLabel=true,
// and its binding.
func CELPolicy() []runtime.Object {
	var vs []admissionv1.Validation
	for _, r := range PodRules() {
		vs = append(vs, admissionv1.Validation{Expression: r.Expression, Message: r.Message, Reason: ptr(metav1.StatusReasonForbidden)})
	}
	fail := admissionv1.Fail
	p := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName + "-pod-spec"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods", "pods/ephemeralcontainers"}},
				},
			}}},
			Variables:   []admissionv1.Variable{{Name: "containers", Expression: containersVar}},
			Validations: vs,
		},
	}
	b := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: PolicyName + "-pod-spec"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        p.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{EnforceLabel: "true"}},
			},
		},
	}
	return []runtime.Object{p, b}
}

// podCUE is policy-controller's CUE over the Pod spec (includeSpec).
// policy-controller validates CUE without requiring concrete values, so a
// field the Pod leaves out passes here; the CEL policy requires presence.
const podCUE = `spec: {
  automountServiceAccountToken: false
  hostNetwork?: false
  hostPID?: false
  hostIPC?: false
  containers: [...{
    image: =~"@sha256:[0-9a-f]{64}$"
    securityContext: {
      runAsNonRoot: true
      runAsUser: >0
      runAsGroup: >0
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      privileged?: false
      capabilities: {
        drop: ["ALL"]
        add?: []
      }
      seccompProfile: type: "RuntimeDefault"
    }
  }]
}
`

// slsaCUE requires the attestation's statement to be SLSA provenance v1.
const slsaCUE = `predicateType: "` + PredicateSLSAProvenanceV1 + `"
`

// ClusterImagePolicy is sigstore policy-controller's policy for images
// matching globs: a signature by the public key (PEM), a signed SLSA
// provenance attestation, and CUE on the Pod spec. policy-controller, like
// Kyverno, does not bind a signature to the repository it was made for;
// drydock's webhook does.
func ClusterImagePolicy(pubPEM string, globs []string) *unstructuredObject {
	var images []any
	for _, g := range globs {
		images = append(images, map[string]any{"glob": g})
	}
	key := map[string]any{"data": pubPEM, "hashAlgorithm": "sha256"}
	return &unstructuredObject{gvk: schema.GroupVersionKind{Group: "policy.sigstore.dev", Version: "v1beta1", Kind: "ClusterImagePolicy"}, obj: map[string]any{
		"apiVersion": "policy.sigstore.dev/v1beta1",
		"kind":       "ClusterImagePolicy",
		"metadata":   map[string]any{"name": PolicyName},
		"spec": map[string]any{
			"mode":   "enforce",
			"images": images,
			"authorities": []any{map[string]any{
				"name": "drydock-key",
				// No ctlog: drydock signs offline with a key, nothing goes to Rekor.
				"key": key,
				"attestations": []any{map[string]any{
					"name":          "slsa-provenance",
					"predicateType": PredicateSLSAProvenanceV1,
					"policy":        map[string]any{"type": "cue", "data": slsaCUE},
				}},
			}},
			"policy": map[string]any{"type": "cue", "includeSpec": true, "data": podCUE},
		},
	}}
}

// KyvernoPolicy is a Kyverno ClusterPolicy: verifyImages (the key, no
// transparency log, and the SLSA provenance attestation) and the same CEL
// Pod-spec rules as the ValidatingAdmissionPolicy.
func KyvernoPolicy(pubPEM string, globs []string) *unstructuredObject {
	attestor := []any{map[string]any{"entries": []any{map[string]any{"keys": map[string]any{
		"publicKeys": pubPEM,
		"rekor":      map[string]any{"ignoreTlog": true},
		"ctlog":      map[string]any{"ignoreSCT": true},
	}}}}}
	refs := make([]any, 0, len(globs))
	for _, g := range globs {
		refs = append(refs, strings.ReplaceAll(g, "**", "*"))
	}
	var exprs []any
	for _, r := range PodRules() {
		// Kyverno's CEL has no policy variables: inline the containers list.
		exprs = append(exprs, map[string]any{
			"expression": strings.ReplaceAll(r.Expression, "variables.containers", "("+containersVar+")"),
			"message":    r.Message,
		})
	}
	match := map[string]any{"any": []any{map[string]any{"resources": map[string]any{
		"kinds":             []any{"Pod"},
		"namespaceSelector": map[string]any{"matchLabels": map[string]any{EnforceLabel: "true"}},
	}}}}
	return &unstructuredObject{gvk: schema.GroupVersionKind{Group: "kyverno.io", Version: "v1", Kind: "ClusterPolicy"}, obj: map[string]any{
		"apiVersion": "kyverno.io/v1",
		"kind":       "ClusterPolicy",
		"metadata":   map[string]any{"name": PolicyName},
		"spec": map[string]any{
			"background":            false,
			"webhookTimeoutSeconds": 30,
			"rules": []any{
				map[string]any{
					"name":  "drydock-signature",
					"match": match,
					"verifyImages": []any{map[string]any{
						"imageReferences": refs,
						"failureAction":   "Enforce",
						"mutateDigest":    false,
						"verifyDigest":    true,
						"required":        true,
						"attestors":       attestor,
						"attestations": []any{map[string]any{
							"type":      PredicateSLSAProvenanceV1,
							"attestors": attestor,
						}},
					}},
				},
				map[string]any{
					"name":     "drydock-pod-spec",
					"match":    match,
					"validate": map[string]any{"failureAction": "Enforce", "cel": map[string]any{"expressions": exprs}},
				},
			},
		},
	}}
}

// Policies returns the admission objects for one flavour.
func Policies(flavour, pubPEM string, globs []string) ([]runtime.Object, error) {
	if len(globs) == 0 {
		globs = []string{"**"}
	}
	switch flavour {
	case ForCEL:
		return CELPolicy(), nil
	case ForPolicyController:
		return []runtime.Object{ClusterImagePolicy(pubPEM, globs)}, nil
	case ForKyverno:
		return []runtime.Object{KyvernoPolicy(pubPEM, globs)}, nil
	}
	return nil, inputerr.Field("flavour", strconv.Quote(flavour), fmt.Errorf("use %s, %s or %s", ForPolicyController, ForKyverno, ForCEL))
}

// unstructuredObject carries a third-party kind (no Go types in go.mod) as
// a runtime.Object for Write.
type unstructuredObject struct {
	gvk schema.GroupVersionKind
	obj map[string]any
}

func (u *unstructuredObject) GetObjectKind() schema.ObjectKind { return u }
func (u *unstructuredObject) DeepCopyObject() runtime.Object {
	// Through JSON: obj holds only what JSON would hold.
	b, _ := jsonMarshal(u.obj)
	var obj map[string]any
	_ = json.Unmarshal(b, &obj)
	return &unstructuredObject{gvk: u.gvk, obj: obj}
}
func (u *unstructuredObject) SetGroupVersionKind(gvk schema.GroupVersionKind) { u.gvk = gvk }
func (u *unstructuredObject) GroupVersionKind() schema.GroupVersionKind       { return u.gvk }
func (u *unstructuredObject) MarshalJSON() ([]byte, error)                    { return jsonMarshal(u.obj) }
