package kube

import (
	"context"
	"testing"

	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// An image VOLUME that no tmpfs or declared mount covers would become a
// writable volume created by the container runtime: kube manifest, run
// --kube and the webhook refuse it, as run does.
func TestImageVolumesRefused(t *testing.T) {
	d, err := name.NewDigest(testImage)
	require.NoError(t, err)
	withMount := policies.Default()
	withMount.Mounts = []policies.Mount{{Target: "/data", ReadOnly: true}}
	for _, tc := range []struct {
		name    string
		p       *policies.Policy
		claim   bool // bind a claim at /data
		volumes []string
		want    string // "" accepts
	}{
		{"no volume", policies.Default(), false, nil, ""},
		{"volume on the label's tmpfs", policies.Default(), false, []string{"/tmp/"}, ""},
		{"volume on a bound mount", withMount, true, []string{"/data"}, ""},
		{"volume on a declared mount left unbound", withMount, false, []string{"/data"}, "declares VOLUME /data,"},
		{"uncovered volume", policies.Default(), false, []string{"/var/lib/state"},
			"declares VOLUME /var/lib/state, which the engine would mount writable and exec-allowed"},
		{"one of two uncovered", withMount, true, []string{"/data", "/cache"}, "declares VOLUME /cache,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := policies.Translate(tc.p)
			require.NoError(t, err)
			v := &launch.Verified{Digest: d, Policy: tc.p, Spec: spec, Volumes: tc.volumes}

			opts := []Option{WithKind(KindPod)}
			if tc.claim {
				opts = append(opts, WithClaim("/data", "state"))
			}
			_, err = FromVerified(v, opts...)
			// The webhook sees the Pod someone wrote: here the one this
			// label translates to.
			pods, perr := Manifests(testImage, d.Context().String(), tc.p, opts...)
			require.NoError(t, perr)
			webhook := &Webhook{verify: func(context.Context, string) (*launch.Verified, error) { return v, nil }}
			reviewErr := webhook.Review(context.Background(), pods[0].(*corev1.Pod))

			if tc.want == "" {
				require.NoError(t, err)
				require.NoError(t, reviewErr)
				return
			}
			require.ErrorIs(t, err, launch.ErrRefused)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, reviewErr, tc.want)
		})
	}
}
