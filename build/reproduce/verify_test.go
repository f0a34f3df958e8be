package reproduce_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/build"
	"github.com/drydock-dev/drydock/build/provenance"
	"github.com/drydock-dev/drydock/build/reproduce"
	"github.com/drydock-dev/drydock/launch"
	"github.com/drydock-dev/drydock/policies"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// signed is a hardened, signed and attested image and what attested it.
type signed struct {
	digest name.Digest
	res    *build.Result
}

// TestVerifyRebuild: verify --rebuild's library half. A genuine image (each
// strategy) rebuilds to its own digest; an image whose config was edited
// after hardening and then signed and attested with the genuine provenance
// is refused, naming the edited config field.
func TestVerifyRebuild(t *testing.T) {
	w := setup(t)
	t.Setenv(build.EnvSourceDateEpoch, "")
	ctx := context.Background()
	priv, pub, err := attest.GenerateKeyPair(t.TempDir(), []byte("test-password"))
	require.NoError(t, err)
	signer, err := attest.LoadSigner(priv, []byte("test-password"))
	require.NoError(t, err)
	verifier, err := attest.LoadVerifier(pub)
	require.NoError(t, err)
	f := w.fixtures()[0]
	pol := policies.Default()

	tests := []struct {
		name     string
		strategy build.Strategy
		tamper   bool
		wantDiff string
	}{
		{"genuine rebuild", build.StrategyRebuild, false, ""},
		{"genuine inplace", build.StrategyInplace, false, ""},
		{"genuine rebase", build.StrategyRebase, false, ""},
		{"config edited and re-signed", build.StrategyRebase, true, `config field config.Env[1]: published "NODE_OPTIONS=--require=/tmp/x.js", rebuilt (absent)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := time.Now()
			dst := w.dst("verify-" + string(tt.strategy))
			var res *build.Result
			var sign build.SignFunc = provenance.SignFunc(signer, pol, started)
			if tt.tamper {
				sign = nil // signed below, after the edit
			}
			res = harden(t, f, tt.strategy, dst+":1", build.WithPolicy(pol), build.WithSigner(sign))
			img := mustDigest(t, res.Ref)
			if tt.tamper {
				img = tamper(t, ctx, img, signer, res, pol, started)
			}
			opts := []reproduce.Option{reproduce.WithScratch(w.dst("scratch-" + string(tt.strategy)))}
			if tt.strategy != build.StrategyRebase {
				opts = append(opts, reproduce.WithBuildKitAddr(testenv.FreshBuildKit(t)))
			}
			rep, err := reproduce.Verify(ctx, img, verifier, opts...)
			if tt.wantDiff == "" {
				require.NoError(t, err)
				require.True(t, rep.Match)
				require.Equal(t, img.DigestStr(), rep.Rebuilt.DigestStr())
				require.NotEqual(t, img.Context().Name(), rep.Rebuilt.Context().Name(), "the rebuild never goes to the published repository")
				return
			}
			require.ErrorIs(t, err, reproduce.ErrMismatch)
			require.ErrorIs(t, err, attest.ErrRefused, "a mismatch is a refusal (exit 1)")
			require.NotNil(t, rep)
			require.False(t, rep.Match)
			require.Contains(t, rep.Difference, tt.wantDiff)
			t.Logf("refused: %v", err)
		})
	}

	t.Run("timing", func(t *testing.T) {
		res := harden(t, f, build.StrategyRebuild, w.dst("timing")+":1", build.WithPolicy(pol), build.WithSigner(provenance.SignFunc(signer, pol, time.Now())))
		img := mustDigest(t, res.Ref)
		var plain, rebuild []time.Duration
		for range 3 {
			addr := testenv.FreshBuildKit(t) // started outside the timing
			start := time.Now()
			v, err := launch.Verify(ctx, img.String(), launch.WithVerifier(verifier))
			require.NoError(t, err)
			plain = append(plain, time.Since(start))
			_, err = reproduce.Verify(ctx, v.Digest, verifier, reproduce.WithScratch(w.dst("timing-scratch")), reproduce.WithBuildKitAddr(addr))
			require.NoError(t, err)
			rebuild = append(rebuild, time.Since(start))
		}
		t.Logf("verify median %s; verify --rebuild (rebuild strategy, empty buildkitd) median %s", median(plain), median(rebuild))
	})
}

// tamper edits the image's config (an extra environment variable), pushes
// the result to the same repository and signs and attests it with the
// genuine image's provenance, as a dishonest mirror would.
func tamper(t *testing.T, ctx context.Context, d name.Digest, signer signature.Signer, res *build.Result, pol *policies.Policy, started time.Time) name.Digest {
	t.Helper()
	img, err := remote.Image(d)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Config.Env = append(cf.Config.Env, "NODE_OPTIONS=--require=/tmp/x.js")
	edited, err := mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	ed, err := edited.Digest()
	require.NoError(t, err)
	out := d.Context().Digest(ed.String())
	require.NoError(t, remote.Write(out, edited))
	prov, err := provenance.For(res, pol, started)
	require.NoError(t, err)
	require.NoError(t, attest.Sign(ctx, out, signer))
	require.NoError(t, attest.Attest(ctx, out, signer, prov))
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}
