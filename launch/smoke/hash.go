package smoke

import (
	"crypto/sha256"
	"encoding/hex"
)

func shortHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}
