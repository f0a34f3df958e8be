package attest_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"github.com/stretchr/testify/require"
)

// TestTamperMatrix runs every attack drydock must refuse against the real
// registry, through the path drydock run and drydock verify take
// (attest.Resolve, then attest.Verify of that digest). Each refusal must
// name the check that failed.
func TestTamperMatrix(t *testing.T) {
	w := newRealWorld(t)
	const label = `{"apiVersion":"drydock.dev/v1"}`
	prov := func(src name.Digest) *attest.Provenance {
		return &attest.Provenance{Source: src.String(), Strategy: "rebuild", Policy: []byte(label), BuilderID: "test"}
	}
	slsa := []attest.Option{attest.WithAttestation(attest.PredicateSLSAProvenanceV1)}
	kl := newKeylessWorld(t)
	// keyless signs a new image at repo:v1 with a certificate from ca for
	// subject and issuer, valid from nb to na.
	keyless := func(t *testing.T, repo name.Repository, ca *keylesstest.CA, subject, issuer string, nb, na time.Time) name.Reference {
		d := w.image(t, repo, "v1", label)
		l := load(t, ca.Issue(t, subject, issuer, nb, na))
		require.NoError(t, attest.Sign(ctx, d, l.key, attest.WithCertificate(l.cert)))
		return repo.Tag("v1")
	}
	now := time.Now()

	tests := []struct {
		name string
		// setup prepares the registry and returns what the user asks for.
		setup func(t *testing.T, repo name.Repository) name.Reference
		opts  []attest.Option
		// verifier verifies instead of the public key (keyless cases).
		verifier   signature.Verifier
		wantCheck  string
		wantReason string
	}{{
		name: "unsigned",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			w.image(t, repo, "v1", label)
			return repo.Tag("v1")
		},
		wantCheck: "signature", wantReason: "no signature found",
	}, {
		name: "signed by another key",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, d, w.other))
			return repo.Tag("v1")
		},
		wantCheck: "signature", wantReason: "no signature was made by the given public key",
	}, {
		name: "signature of another digest placed at this digest's .sig tag",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			a := w.image(t, repo, "a", label)
			b := w.image(t, repo, "b", label)
			require.NoError(t, attest.Sign(ctx, a, w.key))
			copySignatures(t, a, b)
			return repo.Tag("b")
		},
		wantCheck: "claim", wantReason: "made for another digest",
	}, {
		name: "signature copied from another repository",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			src, err := name.NewRepository(repo.Name() + "-src")
			require.NoError(t, err)
			a := w.image(t, src, "v1", label)
			require.NoError(t, attest.Sign(ctx, a, w.key))
			img, err := remote.Image(a)
			require.NoError(t, err)
			b := push(t, repo.Tag("v1"), img)
			copySignatures(t, a, b)
			return repo.Tag("v1")
		},
		wantCheck: "repository", wantReason: "made for repository",
	}, {
		name: "label edited after signing",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			a := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, a, w.key))
			img, err := remote.Image(a)
			require.NoError(t, err)
			edited := push(t, repo.Tag("v1"), withLabel(t, img, `{"apiVersion":"drydock.dev/v1","network":{"mode":"bridge"}}`))
			copySignatures(t, a, edited) // the attacker keeps the old signature
			return repo.Tag("v1")
		},
		wantCheck: "claim", wantReason: "made for another digest",
	}, {
		name: "attestation with the wrong predicate type",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, d, w.key))
			require.NoError(t, attest.AttestPredicate(ctx, d, w.key, "https://spdx.dev/Document", json.RawMessage(`{}`)))
			return repo.Tag("v1")
		},
		opts:      slsa,
		wantCheck: "predicate-type", wantReason: "no signed attestation has predicate type https://slsa.dev/provenance/v1",
	}, {
		name: "attestation whose subject is another digest",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			a := w.image(t, repo, "a", label)
			b := w.image(t, repo, "b", label)
			require.NoError(t, attest.Sign(ctx, b, w.key))
			require.NoError(t, attest.Attest(ctx, a, w.key, prov(a)))
			copyAttestations(t, a, b)
			return repo.Tag("b")
		},
		opts:      slsa,
		wantCheck: "subject", wantReason: "subject is another image",
	}, {
		name: "attestation signed by another key",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, d, w.key))
			require.NoError(t, attest.Attest(ctx, d, w.other, prov(d)))
			return repo.Tag("v1")
		},
		opts:      slsa,
		wantCheck: "attestation", wantReason: "no attestation was signed by the given public key",
	}, {
		name: "provenance from another upstream than the pinned source digest",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, d, w.key))
			require.NoError(t, attest.Attest(ctx, d, w.key, prov(d)))
			return repo.Tag("v1")
		},
		opts:      []attest.Option{attest.WithSourceDigest("sha256:" + zeros)},
		wantCheck: "provenance", wantReason: "not the pinned WithSourceDigest",
	}, {
		name: "index signed but the platform image not",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			idx, _ := w.index(t, repo, "v1")
			p, err := payload.Cosign{Image: idx}.MarshalJSON()
			require.NoError(t, err)
			writeRawSignature(t, idx, p, signMessage(t, w.key, p)) // the index only, as plain cosign sign does
			return repo.Tag("v1")
		},
		wantCheck: "signature", wantReason: "no signature found",
	}, {
		name: "index without an image for this platform",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			idx, _ := w.index(t, repo, "v1")
			require.NoError(t, attest.Sign(ctx, idx, w.key))
			return repo.Tag("v1")
		},
		opts:      []attest.Option{attest.WithPlatform(otherPlatform())},
		wantCheck: "platform", wantReason: "has no image for platform",
	}, {
		name: "truncated signature payload",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			p, err := payload.Cosign{Image: d}.MarshalJSON()
			require.NoError(t, err)
			writeRawSignature(t, d, p[:len(p)/2], signMessage(t, w.key, p))
			return repo.Tag("v1")
		},
		wantCheck: "payload", wantReason: "garbage or truncated",
	}, {
		name: "garbage signature payload signed with the key",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			p := []byte("\x00\x01 not a simple-signing document")
			writeRawSignature(t, d, p, signMessage(t, w.key, p))
			return repo.Tag("v1")
		},
		wantCheck: "payload", wantReason: "garbage or truncated",
	}, {
		name: "registry returns a different manifest for the digest asked",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			a := w.image(t, repo, "a", label)
			b := w.image(t, repo, "b", label)
			require.NoError(t, attest.Sign(ctx, a, w.key))
			host := swappingProxy(t, w.reg, a, b)
			ref, err := name.NewDigest(host + "/" + repo.RepositoryStr() + "@" + a.DigestStr())
			require.NoError(t, err)
			return ref
		},
		wantCheck: "manifest", wantReason: "not the one asked for",
	}, {
		name: "keyless: certificate for another identity",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			return keyless(t, repo, kl.ca, "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main", ciIssuer, now.Add(-time.Minute), now.Add(10*time.Minute))
		},
		verifier:  kl.verifier,
		wantCheck: "certificate", wantReason: "which is not the required identity",
	}, {
		name: "keyless: certificate from another OIDC issuer",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			return keyless(t, repo, kl.ca, ciSubject, "https://evil.example/oidc", now.Add(-time.Minute), now.Add(10*time.Minute))
		},
		verifier:  kl.verifier,
		wantCheck: "certificate", wantReason: "which is not the required identity",
	}, {
		name: "keyless: expired certificate",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			return keyless(t, repo, kl.ca, ciSubject, ciIssuer, now.Add(-time.Hour), now.Add(-50*time.Minute))
		},
		verifier:  kl.verifier,
		wantCheck: "certificate", wantReason: "not now",
	}, {
		name: "keyless: certificate from a CA the trusted root does not name",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			return keyless(t, repo, kl.otherCA, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(10*time.Minute))
		},
		verifier:  kl.verifier,
		wantCheck: "certificate", wantReason: "not issued by a certificate authority of the trusted root",
	}, {
		name: "keyless: attestation by a certificate for another identity",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			good := load(t, kl.ca.IssueNow(t, ciSubject, ciIssuer))
			require.NoError(t, attest.Sign(ctx, d, good.key, attest.WithCertificate(good.cert)))
			evil := load(t, kl.ca.IssueNow(t, "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main", ciIssuer))
			require.NoError(t, attest.Attest(ctx, d, evil.key, prov(d), attest.WithCertificate(evil.cert)))
			return repo.Tag("v1")
		},
		opts:      slsa,
		verifier:  kl.verifier,
		wantCheck: "attestation", wantReason: "which is not the required identity",
	}, {
		name: "keyless: unsigned",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			w.image(t, repo, "v1", label)
			return repo.Tag("v1")
		},
		verifier:  kl.verifier,
		wantCheck: "signature", wantReason: "no signature found",
	}, {
		name: "keyless: signature of another digest placed at this digest's .sig tag",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			a := w.image(t, repo, "a", label)
			b := w.image(t, repo, "b", label)
			l := load(t, kl.ca.IssueNow(t, ciSubject, ciIssuer))
			require.NoError(t, attest.Sign(ctx, a, l.key, attest.WithCertificate(l.cert)))
			copySignatures(t, a, b)
			return repo.Tag("b")
		},
		verifier:  kl.verifier,
		wantCheck: "claim", wantReason: "made for another digest",
	}, {
		name: "keyless: certificate not yet valid",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			return keyless(t, repo, kl.ca, ciSubject, ciIssuer, now.Add(time.Hour), now.Add(2*time.Hour))
		},
		verifier:  kl.verifier,
		wantCheck: "certificate", wantReason: "not now",
	}, {
		name: "garbage attestation envelope",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, d, w.key))
			writeRawAttestation(t, d, []byte("\x00\x01 not a DSSE envelope"))
			return repo.Tag("v1")
		},
		opts:      slsa,
		wantCheck: "attestation", wantReason: "the attestation is not a valid DSSE envelope holding an in-toto statement",
	}, {
		name: "keyless: garbage attestation envelope",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := keyless(t, repo, kl.ca, ciSubject, ciIssuer, now.Add(-time.Minute), now.Add(10*time.Minute))
			dd, err := attest.Resolve(ctx, d)
			require.NoError(t, err)
			writeRawAttestation(t, dd, []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"bm90IGEgc3RhdGVtZW50","signatures":[]}`))
			return d
		},
		opts:      slsa,
		verifier:  kl.verifier,
		wantCheck: "attestation", wantReason: "the attestation is not a valid DSSE envelope holding an in-toto statement",
	}, {
		name: "docker-reference with a tag",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			// Signed by the right key for this digest and this repository,
			// but for the tag debug: drydock verifies a digest and cannot
			// tell which tag the user meant.
			p, err := payload.Cosign{Image: d, ClaimedIdentity: repo.Tag("debug").String()}.MarshalJSON()
			require.NoError(t, err)
			writeRawSignature(t, d, p, signMessage(t, w.key, p))
			return repo.Tag("v1")
		},
		wantCheck: "repository", wantReason: "names a tag or digest",
	}, {
		name: "Sigstore bundle signature copied from another repository",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			src, err := name.NewRepository(repo.Name() + "-src")
			require.NoError(t, err)
			a := w.image(t, src, "v1", label)
			signBundle(t, a, w.key, "") // as cosign sign --new-bundle-format writes it
			img, err := remote.Image(a)
			require.NoError(t, err)
			b := push(t, repo.Tag("v1"), img)
			copyReferrers(t, a, b)
			return repo.Tag("v1")
		},
		wantCheck: "repository", wantReason: "the Sigstore bundle signature names no repository, so it cannot be bound to",
	}, {
		name: "keyless: key-only signature",
		setup: func(t *testing.T, repo name.Repository) name.Reference {
			d := w.image(t, repo, "v1", label)
			require.NoError(t, attest.Sign(ctx, d, w.key))
			return repo.Tag("v1")
		},
		verifier:  kl.verifier,
		wantCheck: "certificate", wantReason: "no signature carries a certificate",
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := w.repo(t, fmt.Sprintf("tamper%d", i))
			ref := tt.setup(t, repo)

			v := tt.verifier
			if v == nil {
				v = w.pub
			}
			res, err := resolveAndVerify(t, ref, v, tt.opts...)

			t.Logf("refusal: %v", err)
			require.Nil(t, res)
			require.ErrorIs(t, err, attest.ErrRefused)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tt.wantCheck, re.Check)
			require.Contains(t, re.Reason, tt.wantReason)
			require.Contains(t, err.Error(), "(check \""+tt.wantCheck+"\")")
		})
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

func otherPlatform() v1.Platform {
	if runtime.GOARCH == "amd64" {
		return v1.Platform{OS: "linux", Architecture: "arm64"}
	}
	return v1.Platform{OS: "linux", Architecture: "amd64"}
}

// TestVerifiesWhatRuns pins the digest that verification returns: the one
// resolved once (not where the tag points later), and for an index the
// platform image's.
func TestVerifiesWhatRuns(t *testing.T) {
	w := newRealWorld(t)
	const label = `{"apiVersion":"drydock.dev/v1"}`

	t.Run("tag moved between resolve and launch", func(t *testing.T) {
		repo := w.repo(t, "moved")
		signed := w.image(t, repo, "v1", label)
		require.NoError(t, attest.Sign(ctx, signed, w.key))
		d, err := attest.Resolve(ctx, repo.Tag("v1"))
		require.NoError(t, err)
		evil := w.image(t, repo, "v1", label) // the tag now names an unsigned image

		res, err := attest.Verify(ctx, d, w.pub)

		require.NoError(t, err)
		require.Equal(t, signed.String(), res.Digest.String(), "the verified digest is the one resolved first")
		_, err = resolveAndVerify(t, repo.Tag("v1"), w.pub)
		var re *attest.RefusalError
		require.ErrorAs(t, err, &re, "resolving again finds %s, which is unsigned", evil)
		require.Equal(t, "signature", re.Check)
	})
	t.Run("index signed with drydock signs every platform", func(t *testing.T) {
		repo := w.repo(t, "index")
		idx, child := w.index(t, repo, "v1")
		require.NoError(t, attest.Sign(ctx, idx, w.key))

		res, err := resolveAndVerify(t, repo.Tag("v1"), w.pub)

		require.NoError(t, err)
		require.Equal(t, child.String(), res.Digest.String(), "the platform image is what is verified and run")
		_, err = attest.Verify(ctx, idx, w.pub)
		require.NoError(t, err, "the index itself is signed too")
	})
	t.Run("platform image signed, index not", func(t *testing.T) {
		repo := w.repo(t, "childonly")
		idx, child := w.index(t, repo, "v1")
		require.NoError(t, attest.Sign(ctx, child, w.key))

		res, err := resolveAndVerify(t, repo.Tag("v1"), w.pub)

		require.NoError(t, err, "the platform image is what runs, so its signature is what counts")
		require.Equal(t, child.String(), res.Digest.String())
		_, err = attest.Verify(ctx, idx, w.pub)
		require.ErrorIs(t, err, attest.ErrRefused, "verifying the index digest itself still needs the index's signature")
	})
}
