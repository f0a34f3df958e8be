package sbom

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/cosigntest"
	"github.com/drydock-dev/drydock/testdata/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore/pkg/signature"
)

const keyPassword = "sbom-test-password"

type world struct {
	reg, prefix      string
	keyPath, pubPath string
	key              signature.SignerVerifier
	other            signature.SignerVerifier
	pub              signature.Verifier
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{reg: testenv.Registry(t), prefix: fmt.Sprintf("sbom-%d", time.Now().UnixNano())}
	var err error
	if w.keyPath, w.pubPath, err = attest.GenerateKeyPair(filepath.Join(t.TempDir(), "keys"), []byte(keyPassword)); err != nil {
		t.Fatal(err)
	}
	if w.key, err = attest.LoadSigner(w.keyPath, []byte(keyPassword)); err != nil {
		t.Fatal(err)
	}
	if w.pub, err = attest.LoadVerifier(w.pubPath); err != nil {
		t.Fatal(err)
	}
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if w.other, err = signature.LoadECDSASignerVerifier(pk, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	return w
}

// push writes a one-package image (npm zod 3.25.76, plus a distinct file
// so each call gives another digest) to repo:tag and signs it with w.key.
func (w *world) push(t *testing.T, repo, tag string) name.Digest {
	t.Helper()
	img := testImage(t, map[string]string{
		"app/node_modules/zod/package.json": `{"name":"zod","version":"3.25.76"}`,
		"app/marker":                        repo + tag,
	})
	r, err := name.NewRepository(w.reg + "/" + w.prefix + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r.Tag(tag), img); err != nil {
		t.Fatalf("pushing %s: %v", r.Tag(tag), err)
	}
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	d := r.Digest(dg.String())
	if err := attest.Sign(context.Background(), d, w.key); err != nil {
		t.Fatalf("Sign(%s) = %v", d, err)
	}
	return d
}

// The real cosign CLI accepts drydock's SBOM attestation under the type
// users ask for, and only that type.
func TestCosignVerifiesSBOMAttestation(t *testing.T) {
	w := newWorld(t)
	cosign := cosigntest.Binary(t)
	env := []string{"COSIGN_PASSWORD=" + keyPassword}
	for _, tc := range []struct {
		format, cosignType, otherType, predicateType string
	}{
		{"spdx", "spdxjson", "cyclonedx", "https://spdx.dev/Document"},
		{"cyclonedx", "cyclonedx", "spdxjson", "https://cyclonedx.org/bom"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			d := w.push(t, "interop-"+tc.format, "v1")
			if err := AttestImage(context.Background(), d, w.key, tc.format, nil); err != nil {
				t.Fatalf("AttestImage(%s) = %v", tc.format, err)
			}
			r := cosigntest.Run(t, cosign, env, "verify-attestation", "--key", w.pubPath, "--insecure-ignore-tlog", "--type", tc.cosignType, d.String())
			if r.Code != 0 {
				t.Fatalf("cosign verify-attestation --type %s: exit %d\n%s", tc.cosignType, r.Code, r.Stderr)
			}
			var envelope struct{ Payload []byte }
			if err := json.Unmarshal([]byte(strings.SplitN(r.Stdout, "\n", 2)[0]), &envelope); err != nil {
				t.Fatalf("cosign's output is not a DSSE envelope: %v\n%s", err, r.Stdout)
			}
			p := string(envelope.Payload)
			for _, want := range []string{`"predicateType":"` + tc.predicateType + `"`, d.DigestStr()[len("sha256:"):], "pkg:npm/zod@3.25.76"} {
				if !strings.Contains(p, want) {
					t.Errorf("the attested statement lacks %s:\n%.600s", want, p)
				}
			}
			r = cosigntest.Run(t, cosign, env, "verify-attestation", "--key", w.pubPath, "--insecure-ignore-tlog", "--type", tc.otherType, d.String())
			if r.Code == 0 {
				t.Errorf("cosign verify-attestation --type %s accepted a %s SBOM", tc.otherType, tc.format)
			}
		})
	}
}

// drydock's attestation check (attest.WithAttestation) accepts the SBOM
// attestation and refuses one made for another digest or signed with
// another key.
func TestTamperedSBOMAttestationRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	d := w.push(t, "tamper", "good")
	if err := AttestImage(ctx, d, w.key, FormatSPDX, nil); err != nil {
		t.Fatalf("AttestImage = %v", err)
	}
	if _, err := attest.Verify(ctx, d, w.pub, attest.WithAttestation(PredicateSPDX)); err != nil {
		t.Fatalf("Verify(the attested image) = %v, want it accepted", err)
	}

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) name.Digest
		check string
	}{
		{"attestation of another digest copied to this one", func(t *testing.T) name.Digest {
			victim := w.push(t, "tamper", "victim")
			copyAttestations(t, d, victim)
			return victim
		}, "subject"},
		{"attestation signed with another key", func(t *testing.T) name.Digest {
			e := w.push(t, "tamper", "otherkey")
			if err := AttestImage(ctx, e, w.other, FormatSPDX, nil); err != nil {
				t.Fatalf("AttestImage = %v", err)
			}
			return e
		}, "attestation"},
		{"no SBOM attestation, only the signature", func(t *testing.T) name.Digest {
			return w.push(t, "tamper", "none")
		}, "attestation"},
		{"CycloneDX attestation where SPDX is required", func(t *testing.T) name.Digest {
			e := w.push(t, "tamper", "cdx")
			if err := AttestImage(ctx, e, w.key, FormatCycloneDX, nil); err != nil {
				t.Fatalf("AttestImage = %v", err)
			}
			return e
		}, "predicate-type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.setup(t)
			_, err := attest.Verify(ctx, target, w.pub, attest.WithAttestation(PredicateSPDX))
			var re *attest.RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Verify(%s) = %v, want a refusal", target, err)
			}
			if re.Check != tc.check {
				t.Errorf("refused by check %q (%s), want %q", re.Check, re.Reason, tc.check)
			}
		})
	}
}

// copyAttestations puts src's .att manifest at dst's .att tag, as an
// attacker with push access to the repository could.
func copyAttestations(t *testing.T, src, dst name.Digest) {
	t.Helper()
	tag := func(d name.Digest) name.Tag {
		return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + ".att")
	}
	desc, err := remote.Get(tag(src))
	if err != nil {
		t.Fatalf("reading %s: %v", tag(src), err)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag(dst), img); err != nil {
		t.Fatalf("writing %s: %v", tag(dst), err)
	}
}
