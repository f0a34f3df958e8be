package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestVerifyRebuild runs verify --rebuild on the image drydock harden made
// and signed (it must rebuild to the same digest, with the engine the
// provenance records) and on a copy whose config a dishonest mirror edited,
// then signed and attested with the genuine provenance (refused, exit 1,
// naming the field). It logs verify's and verify --rebuild's medians.
func TestVerifyRebuild(t *testing.T) {
	w := setup(t)
	bk := []string{"BUILDKIT_HOST=" + testenv.FreshBuildKit(t)}

	t.Run("genuine", func(t *testing.T) {
		var plain, rebuild []time.Duration
		for range 3 {
			start := time.Now()
			r := drydock(t, nil, "verify", w.hardened, "--key", w.pub)
			require.Equal(t, 0, r.code, r.stderr)
			plain = append(plain, time.Since(start))
			start = time.Now()
			r = drydock(t, bk, "verify", w.hardened, "--key", w.pub, "--rebuild")
			require.Equal(t, 0, r.code, r.stderr)
			rebuild = append(rebuild, time.Since(start))
			require.Contains(t, r.stderr, "to the same digest")
			require.Equal(t, w.hardened, r.lastLine())
		}
		t.Logf("verify median %s, verify --rebuild median %s", median(plain), median(rebuild))
	})

	t.Run("config edited and re-signed", func(t *testing.T) {
		ctx := context.Background()
		d := mustDigest(t, w.hardened)
		v, err := attest.LoadVerifier(w.pub)
		require.NoError(t, err)
		res, err := attest.Verify(ctx, d, v, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
		require.NoError(t, err)
		require.NotEmpty(t, res.Attestations)

		img, err := remote.Image(d)
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		cf = cf.DeepCopy()
		cf.Config.Entrypoint = append([]string{"/bin/sh", "-c"}, cf.Config.Entrypoint...)
		edited, err := mutate.ConfigFile(img, cf)
		require.NoError(t, err)
		h, err := edited.Digest()
		require.NoError(t, err)
		out := d.Context().Digest(h.String())
		require.NoError(t, remote.Write(out, edited))
		signer, err := attest.LoadSigner(w.key, []byte(testPassword))
		require.NoError(t, err)
		require.NoError(t, attest.Sign(ctx, out, signer))
		require.NoError(t, attest.AttestPredicate(ctx, out, signer, attest.PredicateSLSAProvenanceV1, res.Attestations[0].Predicate))

		r := drydock(t, nil, "verify", out.String(), "--key", w.pub)
		require.Equal(t, 0, r.code, "the signature alone verifies: %s", r.stderr)
		r = drydock(t, bk, "verify", out.String(), "--key", w.pub, "--rebuild")
		require.Equal(t, 1, r.code, r.stderr)
		require.Contains(t, r.stderr, `config field config.Entrypoint[0]: published "/bin/sh"`)
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}
