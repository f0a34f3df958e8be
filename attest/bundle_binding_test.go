package attest_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	"github.com/stretchr/testify/require"
)

// signBundle attaches to d a Sigstore bundle signature as `cosign sign
// --new-bundle-format --key` writes it: a DSSE in-toto statement of
// predicate type https://sigstore.dev/cosign/sign/v1 whose one subject is
// d's digest, named subjectName ("" leaves the name out, as cosign does).
func signBundle(t *testing.T, d name.Digest, sv signature.SignerVerifier, subjectName string) {
	t.Helper()
	subject := map[string]any{"digest": map[string]string{"sha256": strings.TrimPrefix(d.DigestStr(), "sha256:")}}
	if subjectName != "" {
		subject["name"] = subjectName
	}
	p, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{subject},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
	})
	require.NoError(t, err)
	env, err := dsse.WrapSigner(sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(p))
	require.NoError(t, err)
	pub, err := sv.PublicKey()
	require.NoError(t, err)
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	require.NoError(t, err)
	b, err := cbundle.MakeNewBundle(pub, nil, p, env, pubPEM, nil)
	require.NoError(t, err)
	require.NoError(t, ociremote.WriteAttestationNewBundleFormat(d, b, types.CosignSignPredicateType))
}

// copyReferrers copies every OCI 1.1 referrer of src (the Sigstore
// bundles) to dst's repository, as a mirror or an attacker copying an
// image with its signatures would; src and dst are the same digest.
func copyReferrers(t *testing.T, src, dst name.Digest) {
	t.Helper()
	idx, err := remote.Referrers(src)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.NotEmpty(t, im.Manifests, "%s has no referrers to copy", src)
	for _, desc := range im.Manifests {
		img, err := remote.Image(src.Context().Digest(desc.Digest.String()))
		require.NoError(t, err)
		require.NoError(t, remote.Write(dst.Context().Digest(desc.Digest.String()), img))
	}
}

// TestBundleRepositoryBinding: a Sigstore bundle signature counts for a
// repository only if its statement names that repository (or an allowed
// one), or, when it names none (cosign's own bundles), if the caller said
// with WithUnboundBundles that the key binds the repository instead.
func TestBundleRepositoryBinding(t *testing.T) {
	w := newRealWorld(t)
	const label = `{"apiVersion":"drydock.dev/v1"}`
	tests := []struct {
		name string
		// setup signs or copies and returns the digest to verify.
		setup      func(t *testing.T, repo name.Repository) name.Digest
		opts       []attest.Option
		wantCheck  string // "" means verified from a bundle
		wantReason string
	}{{
		name: "names this repository",
		setup: func(t *testing.T, repo name.Repository) name.Digest {
			d := w.image(t, repo, "v1", label)
			signBundle(t, d, w.key, repo.Name())
			return d
		},
	}, {
		name: "names no repository",
		setup: func(t *testing.T, repo name.Repository) name.Digest {
			d := w.image(t, repo, "v1", label)
			signBundle(t, d, w.key, "")
			return d
		},
		wantCheck: "repository", wantReason: "the Sigstore bundle signature names no repository, so it cannot be bound to",
	}, {
		name: "names no repository, unbound bundles allowed",
		setup: func(t *testing.T, repo name.Repository) name.Digest {
			d := w.image(t, repo, "v1", label)
			signBundle(t, d, w.key, "")
			return d
		},
		opts: []attest.Option{attest.WithUnboundBundles()},
	}, {
		name: "copied from another repository that it names",
		setup: func(t *testing.T, repo name.Repository) name.Digest {
			src := w.repo(t, repo.RepositoryStr()[strings.LastIndex(repo.RepositoryStr(), "/")+1:]+"-src")
			a := w.image(t, src, "v1", label)
			signBundle(t, a, w.key, src.Name())
			img, err := remote.Image(a)
			require.NoError(t, err)
			b := push(t, repo.Tag("v1"), img)
			copyReferrers(t, a, b)
			return b
		},
		opts:      []attest.Option{attest.WithUnboundBundles()},
		wantCheck: "repository", wantReason: "made for repository",
	}, {
		name: "copied from a mirror source that is allowed",
		setup: func(t *testing.T, repo name.Repository) name.Digest {
			a := w.image(t, w.repo(t, "bundle-upstream"), "v1", label)
			signBundle(t, a, w.key, a.Context().Name())
			img, err := remote.Image(a)
			require.NoError(t, err)
			b := push(t, repo.Tag("v1"), img)
			copyReferrers(t, a, b)
			return b
		},
		opts: []attest.Option{attest.WithAllowedRepositories(w.repo(t, "bundle-upstream").Name())},
	}, {
		name: "names this repository with a tag",
		setup: func(t *testing.T, repo name.Repository) name.Digest {
			d := w.image(t, repo, "v1", label)
			signBundle(t, d, w.key, repo.Tag("debug").String())
			return d
		},
		wantCheck: "repository", wantReason: "made for repository",
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.setup(t, w.repo(t, "bundle"+string(rune('a'+i))))

			res, err := attest.Verify(ctx, d, w.pub, tt.opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.True(t, res.Bundle)
				require.Equal(t, 1, res.Verified)
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
		})
	}
}
