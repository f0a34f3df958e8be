package attest_test

import (
	"errors"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"github.com/stretchr/testify/require"
)

func TestVerify(t *testing.T) {
	tests := []struct {
		name string
		// setup signs or tampers and returns the digest to verify.
		setup        func(t *testing.T, f *fixture, key, other signature.SignerVerifier) name.Digest
		opts         func(f *fixture) []attest.Option
		wantVerified int
		wantCheck    string // "" means success
		wantReason   string
	}{{
		name: "signed",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			return f.a
		},
		wantVerified: 1,
	}, {
		name: "signing twice with the same key adds nothing",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.Equal(t, 1, signatureCount(t, f.a))
			return f.a
		},
		wantVerified: 1,
	}, {
		name: "one good signature among others",
		setup: func(t *testing.T, f *fixture, key, other signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, other))
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.Equal(t, 2, signatureCount(t, f.a))
			return f.a
		},
		wantVerified: 1,
	}, {
		name: "unsigned",
		setup: func(t *testing.T, f *fixture, _, _ signature.SignerVerifier) name.Digest {
			return f.b
		},
		wantCheck:  "signature",
		wantReason: "no signature found",
	}, {
		name: "signed by another key",
		setup: func(t *testing.T, f *fixture, _, other signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, other))
			return f.a
		},
		wantCheck:  "signature",
		wantReason: "no signature was made by the given public key",
	}, {
		name: "signature of another digest at this digest's .sig tag",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			copySignatures(t, f.a, f.b)
			return f.b
		},
		wantCheck:  "claim",
		wantReason: "made for another digest",
	}, {
		name: "signature copied from another repository",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			copySignatures(t, f.a, f.aInY)
			return f.aInY
		},
		wantCheck:  "repository",
		wantReason: "made for repository",
	}, {
		name: "signature copied from an allowed repository",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			copySignatures(t, f.a, f.aInY)
			return f.aInY
		},
		opts: func(f *fixture) []attest.Option {
			return []attest.Option{attest.WithAllowedRepositories(f.x.Name())}
		},
		wantVerified: 1,
	}, {
		name: "garbage payload signed with the key",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			p := []byte("this is not json")
			writeRawSignature(t, f.a, p, signMessage(t, key, p))
			return f.a
		},
		wantCheck:  "payload",
		wantReason: "not a valid cosign simple-signing document",
	}, {
		name: "truncated payload",
		setup: func(t *testing.T, f *fixture, key, _ signature.SignerVerifier) name.Digest {
			p, err := payload.Cosign{Image: f.a}.MarshalJSON()
			require.NoError(t, err)
			writeRawSignature(t, f.a, p[:len(p)/2], signMessage(t, key, p))
			return f.a
		},
		wantCheck:  "payload",
		wantReason: "not a valid cosign simple-signing document",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key, other := newKey(t), newKey(t)
			d := tt.setup(t, f, key, other)
			var opts []attest.Option
			if tt.opts != nil {
				opts = tt.opts(f)
			}

			res, err := attest.Verify(ctx, d, key, opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, d, res.Digest)
				require.Equal(t, tt.wantVerified, res.Verified)
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
			require.Equal(t, d.String(), re.Image)
			require.Contains(t, err.Error(), d.String())
		})
	}
}

// TestNilClaimVerifierAcceptsAnotherDigest documents why Verify always sets
// CheckOpts.ClaimVerifier: without it cosign accepts a signature made for
// another digest once it sits at this digest's .sig tag.
func TestNilClaimVerifierAcceptsAnotherDigest(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, key))
	copySignatures(t, f.a, f.b)

	co := &cosign.CheckOpts{SigVerifier: key, IgnoreTlog: true}
	_, _, err := cosign.VerifyImageSignatures(ctx, f.b, co)
	require.NoError(t, err, "cosign without a claim verifier accepts the moved signature")

	co.ClaimVerifier = cosign.SimpleClaimVerifier
	_, _, err = cosign.VerifyImageSignatures(ctx, f.b, co)
	require.Error(t, err, "with the claim verifier it is refused")
}

func TestResolve(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		ref       name.Reference
		want      name.Digest
		wantCheck string
	}{
		{"tag", f.x.Tag("a"), f.a, ""},
		{"digest", f.b, f.b, ""},
		{"missing tag", f.x.Tag("nope"), name.Digest{}, "resolve"},
		{"missing repository", f.x.Registry.Repo("no", "such").Tag("latest"), name.Digest{}, "resolve"},
		{"missing digest", f.y.Digest(f.b.DigestStr()), name.Digest{}, "resolve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := attest.Resolve(ctx, tt.ref)
			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want.String(), got.String())
				return
			}
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
		})
	}
}

func TestSignMissingImage(t *testing.T) {
	f := newFixture(t)
	err := attest.Sign(ctx, f.y.Digest(f.b.DigestStr()), newKey(t))
	require.ErrorContains(t, err, "not found")
	require.False(t, errors.Is(err, attest.ErrRefused))
}

// TestRegistryErrorsAreNotRefusals: a registry that is down must not look
// like a refused image (exit code 1) to callers.
func TestRegistryErrorsAreNotRefusals(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, key))
	f.srv.Close()

	calls := map[string]func() error{
		"Verify": func() error { _, err := attest.Verify(ctx, f.a, key); return err },
		"Resolve": func() error {
			_, err := attest.Resolve(ctx, f.x.Tag("a"))
			return err
		},
		"Sign": func() error { return attest.Sign(ctx, f.b, key) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.Error(t, err)
			require.False(t, errors.Is(err, attest.ErrRefused), "got refusal: %v", err)
			var re *attest.RefusalError
			require.False(t, errors.As(err, &re))
		})
	}
}

func TestOptions(t *testing.T) {
	f := newFixture(t)
	_, err := attest.Verify(ctx, f.a, newKey(t), attest.WithAllowedRepositories("Not A Repo!"))
	require.ErrorContains(t, err, `parsing allowed repository "Not A Repo!"`)
	require.False(t, errors.Is(err, attest.ErrRefused))
}
