package attest

import (
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/drydock-dev/drydock/internal/inputerr"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Names of the files GenerateKeyPair writes.
const (
	privateKeyFile = "cosign.key"
	publicKeyFile  = "cosign.pub"
)

// GenerateKeyPair writes an encrypted cosign-compatible private key
// (cosign.key, mode 0600, PEM "ENCRYPTED SIGSTORE PRIVATE KEY") and its public
// key (cosign.pub) into dir, creating dir if needed. It refuses to overwrite
// either file and never leaves a partial file behind.
func GenerateKeyPair(dir string, password []byte) (privPath, pubPath string, err error) {
	privPath = filepath.Join(dir, privateKeyFile)
	pubPath = filepath.Join(dir, publicKeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("creating key directory: %w", err)
	}
	for _, p := range []string{privPath, pubPath} {
		if err := checkAbsent(p); err != nil {
			return "", "", err
		}
	}
	keys, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return "", "", fmt.Errorf("generating key pair: %w", err)
	}
	if err := writeNew(privPath, keys.PrivateBytes, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pubPath, keys.PublicBytes, 0o644); err != nil {
		_ = os.Remove(privPath) // a private key without its public key is of no use
		return "", "", err
	}
	return privPath, pubPath, nil
}

// LoadSigner reads an encrypted cosign private key file. A wrong password
// gives an error that names the file, never the password.
func LoadSigner(keyPath string, password []byte) (signature.SignerVerifier, error) {
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || (block.Type != cosign.SigstorePrivateKeyPemType && block.Type != cosign.CosignPrivateKeyPemType) {
		return nil, fmt.Errorf("loading key file %q: not an encrypted cosign private key; pass the cosign.key written by \"drydock keygen\"", keyPath)
	}
	sv, err := cosign.LoadPrivateKey(b, password, nil)
	if err != nil {
		return nil, fmt.Errorf("loading key file %q: the password (COSIGN_PASSWORD) is wrong or the file is damaged; set COSIGN_PASSWORD to the password given to \"drydock keygen\": %w", keyPath, err)
	}
	return sv, nil
}

// LoadVerifier reads a PEM public key file such as cosign.pub.
func LoadVerifier(pubPath string) (signature.Verifier, error) {
	b, err := os.ReadFile(pubPath)
	if err != nil {
		return nil, fmt.Errorf("reading public key file: %w", err)
	}
	return ParseVerifier(b, "public key file "+strconv.Quote(pubPath))
}

// ParseVerifier reads a PEM public key; source names where it came from
// (a file, a floor field) in errors.
func ParseVerifier(pemBytes []byte, source string) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("loading %s: not a PEM public key; pass the cosign.pub written by \"drydock keygen\": %w", source, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", source, err)
	}
	return v, nil
}

func checkAbsent(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return errExists(path)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("checking %s: %w", path, err)
	}
}

// errExists names GenerateKeyPair's dir as the way out: a CLI renders it
// with its flag.
func errExists(path string) error {
	return inputerr.New(func(n func(string) string) string {
		return fmt.Sprintf("%s already exists; remove it or pick another %s", path, n("dir"))
	}, fs.ErrExist, "dir")
}

// writeNew writes data to a temporary file beside path and then links it into
// place, so path is either absent or complete, and an existing file is never
// replaced.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errExists(path)
		}
		// Some file systems have no hard links: check again, then rename.
		if err := checkAbsent(path); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}
