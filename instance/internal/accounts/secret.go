package accounts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// TokenPrefix marks personal API tokens so that secret scanners recognise a leaked one.
const TokenPrefix = "spc_"

// NewSecret returns 32 random bytes, URL-safe base64 encoded.
func NewSecret() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux ≥ 3.17
	}
	return b
}

// HashSecret is how session and API tokens are stored: a SHA-256 digest. The tokens are
// 256-bit random values, so a fast hash is enough; a stolen database yields no usable
// token.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// mac signs msg with key under a purpose label, so one key serves several uses without
// one signature being valid for another.
func mac(key []byte, purpose, msg string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}
