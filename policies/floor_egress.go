package policies

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// FloorEgress names the signed gateway image that runs the egress proxy of
// network mode allowlist, and the public key its signature must verify
// with. Both or neither: without them run builds the gateway from its own
// binary (a static Linux drydock) or uses the release default.
type FloorEgress struct {
	// Image is REPO@sha256:<hex>, as `drydock egress-image` prints it: a
	// digest, never a tag, so the floor pins exactly what may run.
	Image string `json:"image"`
	// Key is a PEM public key inline, or the path of a PEM public key file
	// (absolute, or starting with ~/).
	Key string `json:"key"`
}

// Set reports whether the floor names a gateway image.
func (e FloorEgress) Set() bool { return e.Image != "" }

// KeyPEM reports whether Key holds the PEM key itself rather than a path.
func (e FloorEgress) KeyPEM() bool { return strings.HasPrefix(strings.TrimSpace(e.Key), "-----BEGIN") }

// digestRef is REPO@sha256:<64 lowercase hex>; the repository part is
// checked separately for a tag.
var digestRef = regexp.MustCompile(`^([a-z0-9][a-z0-9._:/-]*)@sha256:[a-f0-9]{64}$`)

// validate checks the egress field and expands "~/" in a key path with home.
func (e *FloorEgress) validate(home string) error {
	if e.Image == "" && e.Key == "" {
		return nil
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if e.Image == "" {
		add("egress.image", "is missing; egress.key is set, so name the gateway image it signed as REPO@sha256:<digest> (drydock egress-image prints it)")
	} else if err := checkDigestRef(e.Image); err != nil {
		add("egress.image", "%v", err)
	}
	switch {
	case e.Key == "":
		add("egress.key", "is missing; give the path of the public key (or the PEM itself) that egress.image is signed with")
	case e.KeyPEM():
		if err := checkPublicKeyPEM(e.Key); err != nil {
			add("egress.key", "%v", err)
		}
	default:
		p := e.Key
		if strings.HasPrefix(p, "~/") {
			if home == "" {
				add("egress.key", "%q needs a home directory, and none is known", e.Key)
				break
			}
			p = filepath.Join(home, strings.TrimPrefix(p, "~/"))
		}
		if !filepath.IsAbs(p) {
			add("egress.key", "%q must be an absolute path (or start with ~/) of a PEM public key file, or the PEM key itself", e.Key)
			break
		}
		e.Key = filepath.Clean(p)
	}
	return errors.Join(errs...)
}

// checkDigestRef accepts REPO@sha256:<64 hex> whose repository has no tag.
func checkDigestRef(ref string) error {
	m := digestRef.FindStringSubmatch(ref)
	if m == nil {
		return fmt.Errorf("%q is not REPO@sha256:<64 hex digits>; name the signed digest (drydock egress-image prints it), never a tag", ref)
	}
	repo := m[1]
	if last := repo[strings.LastIndex(repo, "/")+1:]; strings.Contains(last, ":") {
		return fmt.Errorf("%q names a tag as well as a digest; write REPO@sha256:<digest> alone", ref)
	}
	return nil
}

// checkPublicKeyPEM accepts exactly one PEM "PUBLIC KEY" block holding a
// PKIX public key.
func checkPublicKeyPEM(s string) error {
	block, rest := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil || block.Type != "PUBLIC KEY" {
		return errors.New("is not a PEM public key (-----BEGIN PUBLIC KEY-----, as in cosign.pub)")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return errors.New("holds more than one PEM block; give exactly the gateway image's public key")
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return fmt.Errorf("holds a PEM block that is not a public key: %v", err)
	}
	return nil
}
