package attest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/cosigntest"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// TestCosignInterop checks drydock against the real cosign CLI, both ways,
// on the real registry: what one signs the other verifies, offline, with
// key files in cosign's format.
func TestCosignInterop(t *testing.T) {
	w := newRealWorld(t)
	cosign := cosigntest.Binary(t)
	env := []string{"COSIGN_PASSWORD=" + keyPassword}
	const label = `{"apiVersion":"drydock.dev/v1"}`

	t.Run("drydock signs, cosign verify accepts", func(t *testing.T) {
		d := w.image(t, w.repo(t, "interop-sign"), "v1", label)
		require.NoError(t, attest.Sign(ctx, d, w.key))

		r := cosigntest.Run(t, cosign, env, "verify", "--key", w.pubPath, "--insecure-ignore-tlog", d.String())

		require.Equal(t, 0, r.Code, r.Stderr)
		require.Contains(t, r.Stdout, d.DigestStr())
		require.Contains(t, r.Stdout, d.Context().Name(), "the docker-reference names the repository")
		other := w.image(t, w.repo(t, "interop-sign"), "v2", label)
		r = cosigntest.Run(t, cosign, env, "verify", "--key", w.pubPath, "--insecure-ignore-tlog", other.String())
		require.NotEqual(t, 0, r.Code, "cosign must refuse an image drydock did not sign")
	})
	t.Run("cosign signs, drydock verifies", func(t *testing.T) {
		repo := w.repo(t, "interop-cosign")
		d := w.image(t, repo, "v1", label)
		r := cosigntest.Run(t, cosign, env, "sign", "--key", w.keyPath, "--tlog-upload=false", "--yes", d.String())
		require.Equal(t, 0, r.Code, r.Stderr)

		res, err := resolveAndVerify(t, repo.Tag("v1"), w.pub)

		require.NoError(t, err)
		require.Equal(t, d.String(), res.Digest.String())
		require.Equal(t, 1, res.Verified)
	})
	t.Run("drydock attests, cosign verify-attestation --type slsaprovenance1 accepts", func(t *testing.T) {
		repo := w.repo(t, "interop-attest")
		d := w.image(t, repo, "v1", label)
		require.NoError(t, attest.Sign(ctx, d, w.key))
		require.NoError(t, attest.Attest(ctx, d, w.key, &attest.Provenance{
			Source: d.String(), Strategy: "rebuild", Policy: []byte(label), BuilderID: "test", Version: "v0-test"}))

		r := cosigntest.Run(t, cosign, env, "verify-attestation", "--key", w.pubPath, "--insecure-ignore-tlog",
			"--type", "slsaprovenance1", d.String())

		require.Equal(t, 0, r.Code, r.Stderr)
		var envelope struct{ Payload []byte }
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &envelope))
		require.Contains(t, string(envelope.Payload), `"predicateType":"https://slsa.dev/provenance/v1"`)
		require.Contains(t, string(envelope.Payload), d.DigestStr()[len("sha256:"):])
		r = cosigntest.Run(t, cosign, env, "verify-attestation", "--key", w.pubPath, "--insecure-ignore-tlog",
			"--type", "spdxjson", d.String())
		require.NotEqual(t, 0, r.Code, "cosign filters by predicate type too")
	})
	t.Run("cosign attests slsaprovenance1, drydock verifies the attestation", func(t *testing.T) {
		repo := w.repo(t, "interop-cosign-attest")
		d := w.image(t, repo, "v1", label)
		r := cosigntest.Run(t, cosign, env, "sign", "--key", w.keyPath, "--tlog-upload=false", "--yes", d.String())
		require.Equal(t, 0, r.Code, r.Stderr)
		pred := writeFile(t, "pred.json", `{"buildDefinition":{"buildType":"https://example/x","externalParameters":{}},"runDetails":{"builder":{"id":"https://example/b"}}}`)
		r = cosigntest.Run(t, cosign, env, "attest", "--key", w.keyPath, "--tlog-upload=false", "--yes",
			"--type", "slsaprovenance1", "--predicate", pred, d.String())
		require.Equal(t, 0, r.Code, r.Stderr)

		res, err := resolveAndVerify(t, repo.Tag("v1"), w.pub, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))

		require.NoError(t, err)
		require.Len(t, res.Attestations, 1)
	})
	t.Run("cosign signs and attests in the new bundle format (OCI 1.1 referrers), drydock verifies", func(t *testing.T) {
		repo := w.repo(t, "interop-bundle")
		d := w.image(t, repo, "v1", label)
		r := cosigntest.Run(t, cosign, env, "sign", "--key", w.keyPath, "--tlog-upload=false", "--new-bundle-format", "--yes", d.String())
		require.Equal(t, 0, r.Code, r.Stderr)
		_, err := remote.Head(repo.Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".sig"))
		require.Error(t, err, "the new format writes no .sig tag; drydock must find the referrer")

		_, err = resolveAndVerify(t, repo.Tag("v1"), w.pub)
		var re *attest.RefusalError
		require.ErrorAs(t, err, &re, "cosign's bundle names no repository, so by default it cannot be bound")
		require.Equal(t, "repository", re.Check)
		require.Contains(t, re.Reason, "the Sigstore bundle signature names no repository")

		unbound := attest.WithUnboundBundles()
		res, err := resolveAndVerify(t, repo.Tag("v1"), w.pub, unbound)

		require.NoError(t, err)
		require.True(t, res.Bundle)
		require.Equal(t, d.String(), res.Digest.String())

		_, err = resolveAndVerify(t, repo.Tag("v1"), w.other, unbound)
		require.ErrorAs(t, err, &re, "another key must not verify a bundle")
		require.Equal(t, "signature", re.Check)
		require.Contains(t, re.Reason, "Sigstore bundle")

		_, err = resolveAndVerify(t, repo.Tag("v1"), w.pub, unbound, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
		require.ErrorAs(t, err, &re, "a bundle signature is not a provenance attestation")
		require.Equal(t, "attestation", re.Check)

		pred := writeFile(t, "pred.json", `{"buildDefinition":{"buildType":"https://example/x","externalParameters":{}},"runDetails":{"builder":{"id":"https://example/b"}}}`)
		r = cosigntest.Run(t, cosign, env, "attest", "--key", w.keyPath, "--tlog-upload=false", "--new-bundle-format", "--yes",
			"--type", "slsaprovenance1", "--predicate", pred, d.String())
		require.Equal(t, 0, r.Code, r.Stderr)
		res, err = resolveAndVerify(t, repo.Tag("v1"), w.pub, unbound, attest.WithAttestation(attest.PredicateSLSAProvenanceV1))
		require.NoError(t, err)
		require.Len(t, res.Attestations, 1)
		require.Equal(t, attest.PredicateSLSAProvenanceV1, res.Attestations[0].PredicateType)
	})
}
