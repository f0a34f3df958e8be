package attest_test

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/drydock-dev/drydock/attest/keylesstest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/stretchr/testify/require"
)

const (
	ciSubject = keylesstest.Subject
	ciIssuer  = keylesstest.Issuer
)

// leaf is a certified ephemeral key loaded as drydock sign --certificate
// --key loads it.
type leaf struct {
	key  signature.SignerVerifier
	cert *attest.Certificate
}

func load(t *testing.T, l keylesstest.Leaf) *leaf {
	t.Helper()
	key, err := attest.LoadPrivateKey(l.KeyPath, func() ([]byte, error) { panic("an unencrypted key needs no password") })
	require.NoError(t, err)
	cert, err := attest.LoadCertificate(l.CertPath, "")
	require.NoError(t, err)
	return &leaf{key: key, cert: cert}
}

// keylessWorld is a test CA, another CA nobody trusts, the trusted root
// naming the first and the verifier requiring the CI identity.
type keylessWorld struct {
	ca, otherCA *keylesstest.CA
	rootPath    string
	verifier    *attest.KeylessVerifier
}

func newKeylessWorld(t *testing.T) *keylessWorld {
	t.Helper()
	k := &keylessWorld{ca: keylesstest.NewCA(t, "drydock test fulcio"), otherCA: keylesstest.NewCA(t, "someone else's fulcio")}
	k.rootPath = k.ca.TrustedRoot(t)
	var err error
	k.verifier, err = attest.LoadKeylessVerifier(k.rootPath, attest.Identity{Subject: ciSubject, Issuer: ciIssuer})
	require.NoError(t, err)
	return k
}

// ciLeaf is a currently valid certificate for the CI identity.
func (k *keylessWorld) ciLeaf(t *testing.T) *leaf {
	t.Helper()
	return load(t, k.ca.IssueNow(t, ciSubject, ciIssuer))
}

func TestKeylessSignVerify(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	l := k.ciLeaf(t)

	require.NoError(t, attest.Sign(ctx, f.a, l.key, attest.WithCertificate(l.cert)))
	require.NoError(t, attest.Sign(ctx, f.a, l.key, attest.WithCertificate(l.cert)))
	require.Equal(t, 1, signatureCount(t, f.a), "signing again with the same key and certificate adds nothing")

	tests := []struct {
		name    string
		id      attest.Identity
		wantErr string
	}{
		{name: "exact identity", id: attest.Identity{Subject: ciSubject, Issuer: ciIssuer}},
		{name: "identity pattern", id: attest.Identity{SubjectRegExp: `^https://github\.com/drydock-dev/drydock/\.github/workflows/[^/]+@refs/heads/main$`, Issuer: ciIssuer}},
		{name: "issuer pattern", id: attest.Identity{Subject: ciSubject, IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`}},
		{name: "other workflow", id: attest.Identity{Subject: ciSubject + "x", Issuer: ciIssuer}, wantErr: "not the required identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := attest.LoadKeylessVerifier(k.rootPath, tt.id)
			require.NoError(t, err)

			res, err := attest.Verify(ctx, f.a, v)

			if tt.wantErr != "" {
				require.ErrorIs(t, err, attest.ErrRefused)
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, res.Verified)
		})
	}

	t.Run("attestation carries the certificate too", func(t *testing.T) {
		require.NoError(t, attest.Attest(ctx, f.a, l.key, &attest.Provenance{
			Source: f.b.String(), Strategy: "rebuild", Policy: []byte(`{}`), BuilderID: "test"}, attest.WithCertificate(l.cert)))

		res, err := attest.Verify(ctx, f.a, k.verifier, attest.WithSourceDigest(f.b.DigestStr()))

		require.NoError(t, err)
		require.Len(t, res.Attestations, 1)
	})
	t.Run("the same image does not verify keylessly for a key-only signature", func(t *testing.T) {
		require.NoError(t, attest.Sign(ctx, f.b, newKey(t)))

		_, err := attest.Verify(ctx, f.b, k.verifier)

		require.ErrorIs(t, err, attest.ErrRefused)
		require.ErrorContains(t, err, "no signature carries a certificate")
	})
}

func TestKeylessSignRefusesAnotherKey(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	l := k.ciLeaf(t)

	err := attest.Sign(ctx, f.a, newKey(t), attest.WithCertificate(l.cert))

	require.ErrorContains(t, err, "not the key the certificate was issued for")
	require.Equal(t, 0, signatureCount(t, f.a), "nothing was written")
}

func TestLoadKeylessVerifierErrors(t *testing.T) {
	k := newKeylessWorld(t)
	noCA, err := root.NewTrustedRoot(root.TrustedRootMediaType01, nil, nil, nil, nil)
	require.NoError(t, err)
	b, err := noCA.MarshalJSON()
	require.NoError(t, err)
	id := attest.Identity{Subject: ciSubject, Issuer: ciIssuer}
	tests := []struct {
		name, path string
		ids        []attest.Identity
		wantErr    string
	}{
		{name: "no identity", path: k.rootPath, wantErr: "keyless verification needs a certificate identity: pass Identity.Subject (or Identity.SubjectRegExp) and Identity.Issuer"},
		{name: "no issuer", path: k.rootPath, ids: []attest.Identity{{Subject: ciSubject}}, wantErr: "exactly one of Identity.Issuer and Identity.IssuerRegExp"},
		{name: "subject and pattern", path: k.rootPath, ids: []attest.Identity{{Subject: ciSubject, SubjectRegExp: ".*", Issuer: ciIssuer}}, wantErr: "exactly one of Identity.Subject and Identity.SubjectRegExp"},
		{name: "bad pattern", path: k.rootPath, ids: []attest.Identity{{SubjectRegExp: "(", Issuer: ciIssuer}}, wantErr: "parsing Identity.SubjectRegExp \"(\""},
		{name: "missing file", path: filepath.Join(t.TempDir(), "nope.json"), ids: []attest.Identity{id}, wantErr: "loading trusted root"},
		{name: "not a trusted root", path: writeFile(t, "x.json", `{"mediaType":"nope"}`), ids: []attest.Identity{id}, wantErr: "loading trusted root"},
		{name: "no CA", path: writeFile(t, "noca.json", string(b)), ids: []attest.Identity{id}, wantErr: "names no certificate authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := attest.LoadKeylessVerifier(tt.path, tt.ids...)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLoadPrivateKeyKeepsKeyOutOfErrors(t *testing.T) {
	const secret = "c2VjcmV0LWtleS1tYXRlcmlhbA"
	p := writeFile(t, "key.pem", "-----BEGIN PRIVATE KEY-----\n"+secret+"\n-----END PRIVATE KEY-----\n")

	_, err := attest.LoadPrivateKey(p, nil)

	require.ErrorContains(t, err, "key.pem")
	require.NotContains(t, err.Error(), secret)
}

func TestLoadCertificate(t *testing.T) {
	k := newKeylessWorld(t)
	l := k.ca.IssueNow(t, ciSubject, ciIssuer)
	leafPEM := readFile(t, l.CertPath)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.ca.Cert.Raw}))
	tests := []struct {
		name        string
		cert, chain string // file contents; chain "" means no chain file
		wantChain   bool
		wantErr     string
	}{
		{name: "leaf only", cert: leafPEM},
		{name: "leaf and chain in one file", cert: leafPEM + caPEM, wantChain: true},
		{name: "leaf and chain file", cert: leafPEM, chain: caPEM, wantChain: true},
		{name: "not a certificate", cert: "hello", wantErr: "not a PEM certificate"},
		{name: "chain not certificates", cert: leafPEM, chain: "hello", wantErr: "not PEM certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chainPath := ""
			if tt.chain != "" {
				chainPath = writeFile(t, "chain.pem", tt.chain)
			}

			c, err := attest.LoadCertificate(writeFile(t, "cert.pem", tt.cert), chainPath)

			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, leafPEM, string(c.PEM))
			if tt.wantChain {
				require.Equal(t, caPEM, string(c.ChainPEM))
			} else {
				require.Empty(t, c.ChainPEM)
			}
		})
	}
}

// TestKeylessChainAttached: the chain given at signing is on the signature,
// where cosign (and anyone without the trusted root's intermediates)
// reads it.
func TestKeylessChainAttached(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	l := k.ca.IssueNow(t, ciSubject, ciIssuer)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.ca.Cert.Raw}))
	key := load(t, l).key
	c, err := attest.LoadCertificate(l.CertPath, writeFile(t, "chain.pem", caPEM))
	require.NoError(t, err)

	require.NoError(t, attest.Sign(ctx, f.a, key, attest.WithCertificate(c)))

	sigs, err := ociremote.Signatures(sigTag(t, f.a))
	require.NoError(t, err)
	list, err := sigs.Get()
	require.NoError(t, err)
	require.Len(t, list, 1)
	chain, err := list[0].Chain()
	require.NoError(t, err)
	require.Len(t, chain, 1)
	require.True(t, chain[0].Equal(k.ca.Cert))
	_, err = attest.Verify(ctx, f.a, k.verifier)
	require.NoError(t, err)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// TestCertificateVerifier: the verifier made from a certificate and its
// chain accepts what any key certified for the same identity by the same
// CA signed (ephemeral CI keys), and refuses another identity, another CA
// and a key-only signature; a certificate without a root in its chain
// cannot make one.
func TestCertificateVerifier(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	caPEM := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.ca.Cert.Raw})))
	ours := k.ca.IssueNow(t, ciSubject, ciIssuer)
	c, err := attest.LoadCertificate(ours.CertPath, caPEM)
	require.NoError(t, err)
	v, err := c.Verifier()
	require.NoError(t, err)

	tests := []struct {
		name   string
		signer func(t *testing.T) (signature.SignerVerifier, []attest.Option)
		ok     bool
	}{
		{"the same key and certificate", func(t *testing.T) (signature.SignerVerifier, []attest.Option) {
			return load(t, ours).key, []attest.Option{attest.WithCertificate(c)}
		}, true},
		{"another key certified for the same identity", func(t *testing.T) (signature.SignerVerifier, []attest.Option) {
			l := k.ciLeaf(t)
			return l.key, []attest.Option{attest.WithCertificate(l.cert)}
		}, true},
		{"another identity", func(t *testing.T) (signature.SignerVerifier, []attest.Option) {
			l := load(t, k.ca.IssueNow(t, ciSubject+"-fork", ciIssuer))
			return l.key, []attest.Option{attest.WithCertificate(l.cert)}
		}, false},
		{"another CA", func(t *testing.T) (signature.SignerVerifier, []attest.Option) {
			l := load(t, k.otherCA.IssueNow(t, ciSubject, ciIssuer))
			return l.key, []attest.Option{attest.WithCertificate(l.cert)}
		}, false},
		{"our key without the certificate", func(t *testing.T) (signature.SignerVerifier, []attest.Option) {
			return load(t, ours).key, nil
		}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := push(t, f.x.Tag(fmt.Sprintf("cv-%d", i)), mustRandom(t))
			key, opts := tt.signer(t)
			require.NoError(t, attest.Sign(ctx, d, key, opts...))
			_, err := attest.Verify(ctx, d, v)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, attest.ErrRefused)
		})
	}

	noChain, err := attest.LoadCertificate(ours.CertPath, "")
	require.NoError(t, err)
	_, err = noChain.Verifier()
	require.ErrorContains(t, err, "the certificate has no chain: pass the chain up to the root CA with Certificate.ChainPEM")
}

func mustRandom(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(128, 1)
	require.NoError(t, err)
	return img
}

// TestKeylessPatternRefusesAnyone: an identity or issuer pattern that
// accepts anyone (or nothing but the empty string) is refused when the
// verifier is made, naming the flag and the pattern.
func TestKeylessPatternRefusesAnyone(t *testing.T) {
	k := newKeylessWorld(t)
	subject := func(re string) attest.Identity { return attest.Identity{SubjectRegExp: re, Issuer: ciIssuer} }
	issuer := func(re string) attest.Identity { return attest.Identity{Subject: ciSubject, IssuerRegExp: re} }
	tests := []struct {
		name    string
		id      attest.Identity
		wantErr string
	}{
		{"dot star", subject(`.*`), `Identity.SubjectRegExp ".*" accepts any identity`},
		{"dot plus", subject(`.+`), `Identity.SubjectRegExp ".+" accepts any identity`},
		{"anchored dot star", subject(`^.*$`), `Identity.SubjectRegExp "^.*$" accepts any identity`},
		{"dot star matching newlines", subject(`(?s).*`), `Identity.SubjectRegExp "(?s).*" accepts any identity`},
		{"space or not", subject(`[\s\S]*`), `Identity.SubjectRegExp "[\\s\\S]*" accepts any identity`},
		{"non-space", subject(`\S+`), `Identity.SubjectRegExp "\\S+" accepts any identity`},
		{"any https URL", subject(`https://.*`), `Identity.SubjectRegExp "https://.*" accepts any identity`},
		{"any email", subject(`.*@.*`), `Identity.SubjectRegExp ".*@.*" accepts any identity`},
		{"empty group", subject(`()`), `Identity.SubjectRegExp "()" accepts any identity`},
		{"empty", subject(``), "exactly one of Identity.Subject and Identity.SubjectRegExp"},
		{"issuer dot star", issuer(`.*`), `Identity.IssuerRegExp ".*" accepts any identity`},
		{"issuer any https host", issuer(`https://[^/]+`), `Identity.IssuerRegExp "https://[^/]+" accepts any identity`},
		{"issuer dot star matching newlines", issuer(`(?s).*`), `Identity.IssuerRegExp "(?s).*" accepts any identity`},
		{"issuer empty", issuer(``), "exactly one of Identity.Issuer and Identity.IssuerRegExp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := attest.LoadKeylessVerifier(k.rootPath, tt.id)

			require.Nil(t, v)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestKeylessPatternIsAnchored: a pattern must match the whole identity or
// issuer, as cosign's CLI users expect from --certificate-identity-regexp,
// not any part of it: a certificate whose identity or issuer merely
// contains the pattern's match is refused.
func TestKeylessPatternIsAnchored(t *testing.T) {
	f := newFixture(t)
	k := newKeylessWorld(t)
	subjectRE := regexp.QuoteMeta(ciSubject)
	issuerRE := regexp.QuoteMeta(ciIssuer)
	tests := []struct {
		name             string
		signedAs, issuer string
		id               attest.Identity
		ok               bool
	}{
		{"identity pattern, exact identity", ciSubject, ciIssuer, attest.Identity{SubjectRegExp: subjectRE, Issuer: ciIssuer}, true},
		{"identity pattern, identity with a suffix", ciSubject + "-evil", ciIssuer, attest.Identity{SubjectRegExp: subjectRE, Issuer: ciIssuer}, false},
		{"identity pattern, identity with a prefix", "https://evil.example/?u=" + ciSubject, ciIssuer, attest.Identity{SubjectRegExp: subjectRE, Issuer: ciIssuer}, false},
		{"issuer pattern, exact issuer", ciSubject, ciIssuer, attest.Identity{Subject: ciSubject, IssuerRegExp: issuerRE}, true},
		{"issuer pattern, issuer with a suffix", ciSubject, ciIssuer + ".evil.example", attest.Identity{Subject: ciSubject, IssuerRegExp: issuerRE}, false},
		{"issuer pattern, issuer with a prefix", ciSubject, "https://evil.example/" + ciIssuer, attest.Identity{Subject: ciSubject, IssuerRegExp: issuerRE}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := push(t, f.x.Tag(fmt.Sprintf("anchored-%d", i)), mustRandom(t))
			l := load(t, k.ca.IssueNow(t, tt.signedAs, tt.issuer))
			require.NoError(t, attest.Sign(ctx, d, l.key, attest.WithCertificate(l.cert)))
			v, err := attest.LoadKeylessVerifier(k.rootPath, tt.id)
			require.NoError(t, err)

			res, err := attest.Verify(ctx, d, v)

			if tt.ok {
				require.NoError(t, err)
				require.Equal(t, 1, res.Verified)
				return
			}
			require.Nil(t, res)
			var re *attest.RefusalError
			require.ErrorAs(t, err, &re)
			require.Equal(t, "certificate", re.Check)
			require.Contains(t, re.Reason, "which is not the required identity")
		})
	}
}
