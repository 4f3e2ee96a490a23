package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts what must not be stored in clear (target URLs, keys, secrets) with
// AES-256-GCM, under a key derived from the instance's secret key for this one use.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the sealing key from the instance's secret key (at least 32 bytes).
func NewSealer(secretKey []byte) (*Sealer, error) {
	if len(secretKey) < 32 {
		return nil, errors.New("new sealer: the secret key is shorter than 32 bytes")
	}
	m := hmac.New(sha256.New, secretKey)
	m.Write([]byte("sproudchat notification targets v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain, bound to ad: a random nonce, then the ciphertext.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, ad)
}

// Open decrypts what Seal made with the same ad; anything altered fails.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("open sealed value: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, errors.New("open sealed value: wrong key or altered")
	}
	return plain, nil
}
