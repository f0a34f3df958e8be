package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/launch/kube"
	"github.com/drydock-dev/drydock/policies"
	"github.com/spf13/cobra"
)

// NewCmdKube groups the Kubernetes commands.
func NewCmdKube() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kube",
		Short: "Run verified images on Kubernetes under their signed policy",
		Long: `Print Kubernetes manifests that carry a verified image's signed policy, and
admission policies that require it in a cluster (see README, "Kubernetes").`,
	}
	cmd.AddCommand(newCmdKubeManifest(), newCmdKubePolicy(), newCmdKubeWebhook(), newCmdKubeMirrorJob())
	return cmd
}

func newCmdKubeManifest() *cobra.Command {
	var (
		vf                    verifyFlags
		floor                 string
		name, namespace, kind string
		claims                map[string]string
	)
	cmd := &cobra.Command{
		Use:   "manifest IMAGE (--key cosign.pub | keyless flags) [--name N] [--namespace NS] [--kind deployment|pod] [--claim TARGET=PVC]",
		Short: "Verify an image like run and print a Deployment (or Pod) and NetworkPolicy carrying its policy",
		Long: `Verify IMAGE exactly as "drydock run" does (resolve once, signature with
repository binding, policy label, this machine's floor: --floor FILE, else
~/.config/drydock/floor.yaml, else the strict built-in floor), then print a
Deployment (--kind pod: a Pod) running that digest and a NetworkPolicy:

  image by digest; runAsNonRoot with the label's UID:GID; readOnlyRootFilesystem;
  allowPrivilegeEscalation false; capabilities drop ALL (plus the label's add);
  seccompProfile RuntimeDefault; resource limits = requests (memory, cpu
  rounded down to whole millicores); an emptyDir (medium Memory, sizeLimit)
  per tmpfs; automountServiceAccountToken false; stdin true (reach the
  server with kubectl attach -i).

Network mode none gets a NetworkPolicy denying all ingress and egress;
bridge denies ingress only; allowlist is refused for now. Kubernetes has no
per-Pod pids limit (it is the kubelet's podPidsLimit) and cannot mount an
emptyDir noexec. A mount the label declares becomes a PersistentVolumeClaim
volume when --claim TARGET=PVC names one; a required mount without --claim
is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := vf.verifier(cmd.Context())
			if err != nil {
				return err
			}
			ao, err := vf.attestOptions()
			if err != nil {
				return err
			}
			fl, err := policies.LoadFloor(floor)
			if err != nil {
				return err
			}
			res, err := launch.Verify(cmd.Context(), args[0], launch.WithVerifier(v), launch.WithAttestOptions(ao...), launch.WithFloor(fl))
			if err != nil {
				return err
			}
			opts := []kube.Option{kube.WithName(name), kube.WithNamespace(namespace), kube.WithKind(kind)}
			for t, c := range claims {
				opts = append(opts, kube.WithClaim(t, c))
			}
			objs, err := kube.FromVerified(res, opts...)
			if err != nil {
				return err
			}
			return kube.Write(cmd.OutOrStdout(), objs...)
		},
	}
	vf.addFlags(cmd)
	addFloorFlag(cmd, &floor)
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "name of the workload and NetworkPolicy (default: the repository's last path element)")
	fl.StringVar(&namespace, "namespace", "", "metadata.namespace (default: none, kubectl's current namespace)")
	fl.StringVar(&kind, "kind", kube.KindDeployment, "workload kind: deployment or pod")
	fl.StringToStringVar(&claims, "claim", nil, "bind PersistentVolumeClaim PVC at a mount target the label declares: TARGET=PVC (repeatable)")
	return cmd
}

func newCmdKubePolicy() *cobra.Command {
	var (
		key, flavour string
		globs        []string
	)
	cmd := &cobra.Command{
		Use:   "policy --key cosign.pub [--for policy-controller|kyverno|cel] [--image GLOB]",
		Short: "Print admission policies that require drydock's signature, provenance and Pod settings",
		Long: `Print admission policies for a cluster:

  policy-controller  a sigstore ClusterImagePolicy: signature by --key (no
                     transparency log), a signed SLSA provenance v1
                     attestation, and CUE on the Pod spec (includeSpec).
  kyverno            a Kyverno ClusterPolicy: verifyImages (key and SLSA
                     attestation) and validate with the same CEL rules as cel.
  cel                a built-in ValidatingAdmissionPolicy and its binding
                     (no webhook): the Pod-spec rules only.

The Pod-spec rules apply in namespaces labelled ` + kube.EnforceLabel + `=true: images pinned by
digest, runAsNonRoot with a non-root UID and GID, read-only root filesystem,
no privilege escalation, not privileged, capabilities drop [ALL] and none
added, seccomp RuntimeDefault, memory and cpu limits, no hostPort, no service
account token, no host namespaces, only memory emptyDirs with a sizeLimit
and PersistentVolumeClaims as volumes, no ephemeral containers.

Neither policy-controller nor Kyverno binds a signature to the repository it
was signed for: a signed image copied with its signature into another
repository passes both. "drydock kube webhook" verifies with drydock's own
verifier and refuses it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pub []byte
			if flavour != kube.ForCEL {
				if key == "" {
					return fmt.Errorf("--for %s needs --key cosign.pub", flavour)
				}
				var err error
				if pub, err = os.ReadFile(key); err != nil {
					return fmt.Errorf("reading public key: %w", err)
				}
				// Refuse what drydock itself could not verify with.
				if _, err := attest.LoadVerifier(key); err != nil {
					return err
				}
			}
			objs, err := kube.Policies(flavour, string(pub), globs)
			if err != nil {
				return err
			}
			return kube.Write(cmd.OutOrStdout(), objs...)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&key, "key", "", "cosign public key file the signatures must verify with")
	fl.StringVar(&flavour, "for", kube.ForCEL, "policy-controller, kyverno or cel")
	fl.StringSliceVar(&globs, "image", nil, "image glob the signature policy applies to (repeatable; default **)")
	return cmd
}

func newCmdKubeWebhook() *cobra.Command {
	var (
		vf                             verifyFlags
		floor, certFile, keyFile, addr string
		printManifests                 bool
		image, namespace, caBundle     string
	)
	cmd := &cobra.Command{
		Use:   "webhook (--key cosign.pub | keyless flags) --tls-cert FILE --tls-key FILE [--addr :8443] [--floor FILE] | --print-manifests --image IMG --ca-bundle FILE",
		Short: "Serve a validating admission webhook that verifies Pods' images with drydock's verifier",
		Long: `Serve https POST /validate (AdmissionReview v1) for Pods. Each container
image must be pinned by digest and verify exactly as "drydock run" verifies it:
signature by --key (or keyless) made for this repository — a signature copied
with its image into another repository is refused, unlike policy-controller
and Kyverno — a valid policy label, and the cluster's floor (--floor FILE,
else the strict built-in floor). The container must then match the label's
translation (see "drydock kube manifest"): the same securityContext, memory
and cpu limits no larger, tmpfs as memory emptyDirs no larger, other mounts
only at the label's targets, environment variables only env.allow names, no
service account token, host namespaces or hostPorts. Refusals use the same
sentences as run.

--print-manifests prints the webhook's Deployment (IMG: a drydock image),
Service and ValidatingWebhookConfiguration (Pods in namespaces labelled
` + kube.EnforceLabel + `=true; failurePolicy Fail) instead; --ca-bundle is the PEM CA that
issued the Secret drydock-webhook-tls, the public key goes in the ConfigMap
drydock-webhook-key as cosign.pub.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if printManifests {
				return printWebhookManifests(cmd, image, namespace, caBundle)
			}
			if certFile == "" || keyFile == "" {
				return errors.New("give --tls-cert and --tls-key: the API server calls webhooks over https only")
			}
			v, ao, fl, err := vf.load(cmd.Context(), floor)
			if err != nil {
				return err
			}
			wh := kube.NewWebhook(launch.WithVerifier(v), launch.WithAttestOptions(ao...), launch.WithFloor(fl))
			wh.Message = cliMessage
			fmt.Fprintf(cmd.ErrOrStderr(), "drydock: admission webhook on https://%s/validate\n", addr)
			return wh.Serve(cmd.Context(), addr, certFile, keyFile)
		},
	}
	vf.addFlags(cmd)
	addFloorFlag(cmd, &floor)
	fl := cmd.Flags()
	fl.StringVar(&certFile, "tls-cert", "", "PEM serving certificate")
	fl.StringVar(&keyFile, "tls-key", "", "PEM private key of the serving certificate")
	fl.StringVar(&addr, "addr", ":8443", "listen address")
	fl.BoolVar(&printManifests, "print-manifests", false, "print the webhook's Deployment, Service and ValidatingWebhookConfiguration instead of serving")
	fl.StringVar(&image, "image", "", "with --print-manifests: the drydock image the webhook runs")
	fl.StringVar(&namespace, "namespace", "drydock-system", "with --print-manifests: the webhook's namespace")
	fl.StringVar(&caBundle, "ca-bundle", "", "with --print-manifests: PEM CA that issued the serving certificate")
	return cmd
}

// printWebhookManifests is kube webhook --print-manifests.
func printWebhookManifests(cmd *cobra.Command, image, namespace, caBundle string) error {
	if image == "" || caBundle == "" {
		return errors.New("--print-manifests needs --image (a drydock image) and --ca-bundle (the PEM CA of the serving certificate)")
	}
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		return fmt.Errorf("reading --ca-bundle: %w", err)
	}
	return kube.Write(cmd.OutOrStdout(), kube.WebhookManifests(image, namespace, ca)...)
}

func newCmdKubeMirrorJob() *cobra.Command {
	var (
		image, namespace, to string
		shards               int
		buildkit             []string
	)
	cmd := &cobra.Command{
		Use:   "mirror-job --image IMG --to PREFIX --shards N --buildkit-addr ADDR... [--namespace NS]",
		Short: "Print an indexed Job that runs drydock mirror in N shards against remote BuildKit daemons",
		Long: `Print a Kubernetes indexed Job of N Pods, each running
"drydock mirror /etc/drydock/catalog/catalog.yaml --to PREFIX --index-shard
$(JOB_COMPLETION_INDEX)/N --buildkit-addr ADDR..." (IMG: a drydock image).
The catalog comes from the ConfigMap drydock-mirror-catalog (catalog.yaml),
the signing key from the Secret drydock-mirror-key (cosign.key and
cosign-password), registry credentials from the Secret drydock-mirror-registry
(.dockerconfigjson). A failed shard is retried alone; mirror skips entries
that are already done. The start check is off (a Pod has no container engine).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if image == "" {
				return errors.New("give --image, a drydock image the Job runs")
			}
			objs, err := kube.MirrorJob(image, namespace, to, shards, buildkit)
			if err != nil {
				return err
			}
			return kube.Write(cmd.OutOrStdout(), objs...)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&image, "image", "", "drydock image the Job runs")
	fl.StringVar(&namespace, "namespace", "", "metadata.namespace (default: none)")
	fl.StringVar(&to, "to", "", "mirror prefix, e.g. registry.internal/mcp")
	fl.IntVar(&shards, "shards", 4, "number of shards (Pods)")
	fl.StringArrayVar(&buildkit, "buildkit-addr", nil, "remote BuildKit daemon (repeatable), e.g. tcp://buildkitd.build:1234")
	return cmd
}
