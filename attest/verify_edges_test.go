package attest_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

// TestVerifyRefusesWithoutKeyOrDigest: Verify needs a verifier and a
// digest it can hash; without them it errs instead of passing.
func TestVerifyRefusesWithoutKeyOrDigest(t *testing.T) {
	f := newFixture(t)
	key := newKey(t)
	require.NoError(t, attest.Sign(ctx, f.a, key))
	tests := []struct {
		name    string
		d       name.Digest
		v       signature.Verifier
		wantErr string
	}{
		{name: "no verifier", d: f.a, v: nil, wantErr: "verifying: no public key given"},
		// A zero name.Digest (a caller that never resolved) has no hash.
		{name: "zero digest", d: name.Digest{}, v: key, wantErr: `verifying "": not a digest reference; resolve the image to its digest first: cannot parse hash`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := attest.Verify(ctx, tt.d, tt.v)

			require.Nil(t, res)
			require.ErrorContains(t, err, tt.wantErr)
			require.NotErrorIs(t, err, attest.ErrRefused)
		})
	}
}

// TestVerifyKeylessRefusals runs the keyless refusals against the
// in-memory registry: each names the check that failed.
func TestVerifyKeylessRefusals(t *testing.T) {
	k := newKeylessWorld(t)
	now := time.Now()
	const evil = "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main"
	signAs := func(t *testing.T, d name.Digest, l *leaf) {
		require.NoError(t, attest.Sign(ctx, d, l.key, attest.WithCertificate(l.cert)))
	}
	tests := []struct {
		name       string
		setup      func(t *testing.T, f *fixture) name.Digest
		opts       []attest.Option
		wantCheck  string // "" means verified
		wantReason string
	}{{
		name: "signed by the CI identity",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, k.ciLeaf(t))
			return f.a
		},
	}, {
		name: "unsigned",
		setup: func(t *testing.T, f *fixture) name.Digest {
			return f.a
		},
		wantCheck: "signature", wantReason: "no signature found",
	}, {
		name: "certificate for another identity",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, load(t, k.ca.IssueNow(t, evil, ciIssuer)))
			return f.a
		},
		wantCheck: "certificate", wantReason: "which is not the required identity",
	}, {
		name: "expired certificate",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, load(t, k.ca.Issue(t, ciSubject, ciIssuer, now.Add(-time.Hour), now.Add(-50*time.Minute))))
			return f.a
		},
		wantCheck: "certificate", wantReason: "not now",
	}, {
		name: "certificate from another CA",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, load(t, k.otherCA.IssueNow(t, ciSubject, ciIssuer)))
			return f.a
		},
		wantCheck: "certificate", wantReason: "not issued by a certificate authority of the trusted root",
	}, {
		name: "signature of another digest at this digest's .sig tag",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, k.ciLeaf(t))
			copySignatures(t, f.a, f.b)
			return f.b
		},
		wantCheck: "claim", wantReason: "made for another digest",
	}, {
		name: "signature copied from another repository",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, k.ciLeaf(t))
			copySignatures(t, f.a, f.aInY)
			return f.aInY
		},
		wantCheck: "repository", wantReason: "made for repository",
	}, {
		name: "another identity's signature, then the CI's for another digest: the furthest wins",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.b, k.ciLeaf(t))
			copySignatures(t, f.b, f.a)
			signAs(t, f.a, load(t, k.ca.IssueNow(t, evil, ciIssuer)))
			return f.a
		},
		wantCheck: "claim", wantReason: "made for another digest",
	}, {
		name: "attested by the CI identity",
		setup: func(t *testing.T, f *fixture) name.Digest {
			l := k.ciLeaf(t)
			signAs(t, f.a, l)
			require.NoError(t, attest.Attest(ctx, f.a, l.key, provenance(f), attest.WithCertificate(l.cert)))
			return f.a
		},
		opts: []attest.Option{attest.WithAttestation(attest.PredicateSLSAProvenanceV1)},
	}, {
		name: "attested by another identity",
		setup: func(t *testing.T, f *fixture) name.Digest {
			signAs(t, f.a, k.ciLeaf(t))
			l := load(t, k.ca.IssueNow(t, evil, ciIssuer))
			require.NoError(t, attest.Attest(ctx, f.a, l.key, provenance(f), attest.WithCertificate(l.cert)))
			return f.a
		},
		opts:      []attest.Option{attest.WithAttestation(attest.PredicateSLSAProvenanceV1)},
		wantCheck: "attestation", wantReason: "which is not the required identity",
	}, {
		name: "attestation of another digest",
		setup: func(t *testing.T, f *fixture) name.Digest {
			l := k.ciLeaf(t)
			signAs(t, f.b, l)
			require.NoError(t, attest.Attest(ctx, f.a, l.key, provenance(f), attest.WithCertificate(l.cert)))
			copyAttestations(t, f.a, f.b)
			return f.b
		},
		opts:      []attest.Option{attest.WithAttestation(attest.PredicateSLSAProvenanceV1)},
		wantCheck: "subject", wantReason: "subject is another image",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			d := tt.setup(t, f)

			res, err := attest.Verify(ctx, d, k.verifier, tt.opts...)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, 1, res.Verified)
				require.False(t, res.Bundle)
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
		})
	}
}

// referrerCounter counts the OCI 1.1 referrers requests (Sigstore
// bundles) that pass through it.
type referrerCounter struct{ n atomic.Int64 }

func (c *referrerCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/referrers/") {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestVerifyReadsBundlesOnlyWhenNeeded: Sigstore bundles are read for a
// key when the .sig tag did not settle it or an attestation is required,
// and never for keyless verification (a keyless bundle needs a signed time
// that offline verification does not have).
func TestVerifyReadsBundlesOnlyWhenNeeded(t *testing.T) {
	k := newKeylessWorld(t)
	slsa := attest.WithAttestation(attest.PredicateSLSAProvenanceV1)
	tests := []struct {
		name      string
		keyless   bool
		sign      bool
		attest    bool
		wantReads bool
	}{
		{name: "key, signed at .sig", sign: true},
		{name: "key, signed at .sig, attestation required", sign: true, attest: true, wantReads: true},
		{name: "key, nothing at .sig", wantReads: true},
		{name: "keyless, signed at .sig, attestation required", keyless: true, sign: true, attest: true},
		{name: "keyless, nothing at .sig", keyless: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var v signature.Verifier = newKey(t)
			signer, opts := v.(signature.SignerVerifier), []attest.Option(nil)
			if tt.keyless {
				l := k.ciLeaf(t)
				v, signer, opts = k.verifier, l.key, []attest.Option{attest.WithCertificate(l.cert)}
			}
			if tt.sign {
				require.NoError(t, attest.Sign(ctx, f.a, signer, opts...))
			}
			if tt.attest {
				require.NoError(t, attest.Attest(ctx, f.a, signer, provenance(f), opts...))
			}
			c := &referrerCounter{}
			vopts := []attest.Option{attest.WithRemoteOptions(remote.WithTransport(c))}
			if tt.attest {
				vopts = append(vopts, slsa)
			}

			res, err := attest.Verify(ctx, f.a, v, vopts...)

			if tt.sign {
				require.NoError(t, err)
				require.Equal(t, 1, res.Verified)
			} else {
				require.ErrorIs(t, err, attest.ErrRefused)
			}
			require.Equal(t, tt.wantReads, c.n.Load() > 0, "%d referrers requests", c.n.Load())
		})
	}
}

// simpleSigning returns a cosign simple-signing payload for d with its
// type, docker-reference and manifest digest set as given.
func simpleSigning(t *testing.T, typ, ref, digest string) []byte {
	t.Helper()
	p, err := json.Marshal(map[string]any{"critical": map[string]any{
		"type":     typ,
		"identity": map[string]string{"docker-reference": ref},
		"image":    map[string]string{"docker-manifest-digest": digest},
	}})
	require.NoError(t, err)
	return p
}

// TestVerifyHandMadeSignatures pins the refusals of .sig payloads an
// attacker with the key's signature (or push access) could write: each
// field Verify relies on must be there and must bind this digest and
// repository.
func TestVerifyHandMadeSignatures(t *testing.T) {
	const cosignType = "cosign container image signature"
	tests := []struct {
		name string
		// payload returns the signed payload for f.a.
		payload    func(t *testing.T, f *fixture) []byte
		then       func(t *testing.T, f *fixture) []byte // a second signed payload, if any
		b64Suffix  string                                // appended to the base64 signature
		wantCheck  string                                // "" means verified
		wantReason string
	}{{
		name: "hand-made payload",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, f.x.Name(), f.a.DigestStr())
		},
	}, {
		name: "another payload type",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, "something else", f.x.Name(), f.a.DigestStr())
		},
		wantCheck: "payload", wantReason: "not a valid cosign simple-signing document",
	}, {
		name: "no docker-reference",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, "", f.a.DigestStr())
		},
		wantCheck: "payload", wantReason: "not a valid cosign simple-signing document",
	}, {
		name: "no manifest digest",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, f.x.Name(), "")
		},
		wantCheck: "payload", wantReason: "not a valid cosign simple-signing document",
	}, {
		name: "optional that is not an object",
		payload: func(t *testing.T, f *fixture) []byte {
			p := simpleSigning(t, cosignType, f.x.Name(), f.a.DigestStr())
			return append(p[:len(p)-1], []byte(`,"optional":"not an object"}`)...)
		},
		wantCheck: "payload", wantReason: "not a valid cosign simple-signing document",
	}, {
		name: "docker-reference with a digest",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, f.a.String(), f.a.DigestStr())
		},
		wantCheck: "repository", wantReason: "which names a tag or digest, not a repository",
	}, {
		name: "docker-reference that is no reference",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, "Not A Repository!", f.a.DigestStr())
		},
		wantCheck: "repository", wantReason: `the signature was made for repository "Not A Repository!"`,
	}, {
		name: "base64 signature with trailing garbage",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, f.x.Name(), f.a.DigestStr())
		},
		b64Suffix: "!!!!",
		wantCheck: "signature", wantReason: "no signature was made by the given public key",
	}, {
		name: "one for another repository, then one naming a tag: the first of equally far refusals",
		payload: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, f.y.Name(), f.a.DigestStr())
		},
		then: func(t *testing.T, f *fixture) []byte {
			return simpleSigning(t, cosignType, f.x.Tag("debug").String(), f.a.DigestStr())
		},
		wantCheck: "repository", wantReason: "the signature was made for repository",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key := newKey(t)
			payloads := [][]byte{tt.payload(t, f)}
			if tt.then != nil {
				payloads = append(payloads, tt.then(t, f))
			}
			for _, p := range payloads {
				sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(signMessage(t, key, p))+tt.b64Suffix)
				require.NoError(t, err)
				se, err := mutate.AttachSignatureToEntity(ociremote.SignedUnknown(f.a), sig)
				require.NoError(t, err)
				require.NoError(t, ociremote.WriteSignatures(f.a.Repository, se))
			}

			res, err := attest.Verify(ctx, f.a, key)

			if tt.wantCheck == "" {
				require.NoError(t, err)
				require.Equal(t, 1, res.Verified)
				return
			}
			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
		})
	}
}

// failing fails the registry requests whose path contains one of its
// substrings, as a registry that goes away halfway through would.
type failing []string

func (f failing) RoundTrip(r *http.Request) (*http.Response, error) {
	for _, s := range f {
		if strings.Contains(r.URL.Path, s) {
			return nil, errors.New("connection reset by peer")
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// attLayer returns the digest of the one attestation layer at d's .att tag.
func attLayer(t *testing.T, d name.Digest) string {
	t.Helper()
	tag, err := ociremote.AttestationTag(d)
	require.NoError(t, err)
	img, err := remote.Image(tag)
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, 1)
	return m.Layers[0].Digest.String()
}

// TestVerifyRegistryErrorsMidway: a registry failing after the first
// request is an error, never a refusal and never a pass.
func TestVerifyRegistryErrorsMidway(t *testing.T) {
	tests := []struct {
		name string
		// setup signs f.a and returns the paths to fail.
		setup   func(t *testing.T, f *fixture, key signature.SignerVerifier) failing
		attest  bool
		wantErr string
	}{{
		name: "signature layer unreadable",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) failing {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			return failing{"/blobs/"}
		},
		wantErr: "reading signature",
	}, {
		name: "signatures unreadable",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) failing {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			return failing{".sig"}
		},
		wantErr: "fetching signatures",
	}, {
		name: "Sigstore bundles unreadable",
		setup: func(t *testing.T, f *fixture, _ signature.SignerVerifier) failing {
			return failing{"/referrers/"}
		},
		wantErr: "reading Sigstore bundles",
	}, {
		// The .sig signature verifies, so the bundles are not needed for
		// the signature; with an attestation required they are read for
		// bundled statements, and failing to read them is an error, not
		// "no bundled statements".
		name: "Sigstore bundles unreadable, attestation required",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) failing {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			return failing{"/referrers/"}
		},
		attest:  true,
		wantErr: "reading Sigstore bundles",
	}, {
		name: "attestations unreadable",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) failing {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			return failing{".att"}
		},
		attest:  true,
		wantErr: "attestations",
	}, {
		name: "attestation layer unreadable",
		setup: func(t *testing.T, f *fixture, key signature.SignerVerifier) failing {
			require.NoError(t, attest.Sign(ctx, f.a, key))
			require.NoError(t, attest.Attest(ctx, f.a, key, provenance(f)))
			return failing{attLayer(t, f.a)}
		},
		attest:  true,
		wantErr: "reading attestation",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			key := newKey(t)
			fail := tt.setup(t, f, key)
			opts := []attest.Option{attest.WithRemoteOptions(remote.WithTransport(fail))}
			if tt.attest {
				opts = append(opts, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
			}

			res, err := attest.Verify(ctx, f.a, key, opts...)

			require.Nil(t, res)
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, "connection reset by peer")
			require.NotErrorIs(t, err, attest.ErrRefused)
		})
	}
}
