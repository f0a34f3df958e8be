package attest

import (
	"context"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// kmsSchemes are the KMS key references drydock understands, in cosign's
// form (awskms:///arn..., gcpkms://projects/..., azurekms://vault.../key,
// hashivault://key). Anything else is a file path.
var kmsSchemes = []string{"awskms://", "gcpkms://", "azurekms://", "hashivault://"}

// IsKMSRef reports whether key names a key in a KMS rather than a file.
func IsKMSRef(key string) bool {
	for _, s := range kmsSchemes {
		if strings.HasPrefix(key, s) {
			return true
		}
	}
	return false
}

// LoadKMSSigner returns a signer (and verifier) for a KMS key reference,
// after reading its public key once, so an unreachable or misconfigured
// KMS fails here with the reference named, not halfway through signing.
// Credentials come from each provider's usual environment (AWS_*, Google
// application default credentials, AZURE_*, VAULT_ADDR/VAULT_TOKEN), never
// from argv, and are never in errors.
//
// The providers are compiled in only with -tags kms (see KMSProviders);
// without it every reference fails with one sentence saying so. Plugins
// (sigstore-kms-* executables) are never run.
func LoadKMSSigner(ctx context.Context, ref string) (signature.SignerVerifier, error) {
	if !IsKMSRef(ref) {
		return nil, fmt.Errorf("%q is not a KMS key reference; use %s", ref, strings.Join(kmsSchemes, ", "))
	}
	scheme := ref[:strings.Index(ref, "://")+3]
	sv, err := loadKMS(ctx, ref)
	if err != nil {
		return nil, err
	}
	if _, err := sv.PublicKey(sigopts.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("reaching KMS key %s (a %s key; check the provider's address and credentials in its environment): %w", ref, scheme, err)
	}
	return sv, nil
}
