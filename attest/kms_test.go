package attest_test

import (
	"testing"

	"github.com/drydock-dev/drydock/attest"
	"github.com/stretchr/testify/require"
)

func TestIsKMSRef(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{"awskms:///arn:aws:kms:us-east-1:111122223333:key/1234", true},
		{"gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", true},
		{"azurekms://vault.vault.azure.net/key", true},
		{"hashivault://drydock", true},
		{"cosign.key", false},
		{"k8s://ns/secret", false},
		{"pkcs11:token=x", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, attest.IsKMSRef(tt.ref), tt.ref)
	}
}

func TestLoadKMSSignerRefusesOtherReferences(t *testing.T) {
	// Never handed to kms.Get, which would run a sigstore-kms-* plugin.
	_, err := attest.LoadKMSSigner(ctx, "k8s://ns/secret")
	require.ErrorContains(t, err, "is not a KMS key reference")
}
