// Package sealbox seals what a binary must store but never show (webhook URLs and
// secrets, an instance's keys, stored API responses, notification targets): AES-256-GCM
// under a key derived with HKDF-SHA256 from the binary's secret key for each purpose,
// with associated data that binds each value to the table, field and row it is stored
// in, so a value copied to another place does not open there.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// version is the first byte of every sealed value: a later format (or key) can be told
// apart from this one.
const version = 1

// ErrOpen is returned for a value that does not open: altered, sealed with another key,
// or sealed for another place.
var ErrOpen = errors.New("open sealed value: wrong key, altered, or sealed for another place")

// Place says where a sealed value is stored. Table and Field choose the derived key (the
// purpose); all three are bound to the value as associated data. Row is the row's key
// where it is known when sealing (an instance id); a row whose id the database assigns
// on insert leaves it empty, and the value is then bound to its table and field only.
type Place struct {
	Table, Field, Row string
}

func (p Place) purpose() string { return "sproudchat sealbox v1 " + p.Table + "." + p.Field }

// ad encodes p unambiguously: each part prefixed by its length.
func (p Place) ad() []byte {
	var b []byte
	for _, s := range []string{p.Table, p.Field, p.Row} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return b
}

// Box seals and opens values under one secret key. It is safe for concurrent use.
type Box struct {
	key  []byte
	mu   sync.Mutex
	aead map[string]cipher.AEAD // by purpose
}

// New returns a Box for secretKey, which must hold at least 32 bytes.
func New(secretKey []byte) (*Box, error) {
	if len(secretKey) < 32 {
		return nil, fmt.Errorf("new sealbox: the secret key has %d bytes, want at least 32", len(secretKey))
	}
	return &Box{key: append([]byte(nil), secretKey...), aead: map[string]cipher.AEAD{}}, nil
}

func (b *Box) cipher(p Place) (cipher.AEAD, error) {
	purpose := p.purpose()
	b.mu.Lock()
	defer b.mu.Unlock()
	if a, ok := b.aead[purpose]; ok {
		return a, nil
	}
	key, err := hkdf.Key(sha256.New, b.key, nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	a, err := NewGCM(key)
	if err != nil {
		return nil, err
	}
	b.aead[purpose] = a
	return a, nil
}

// Seal encrypts plain for place p: a version byte, a random nonce, the ciphertext.
func (b *Box) Seal(plain []byte, p Place) []byte {
	a, err := b.cipher(p)
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = version
	rand.Read(out[1:]) // never fails (crypto/rand)
	return a.Seal(out, out[1:], plain, p.ad())
}

// Open decrypts what Seal made for the same place. Returns ErrOpen if the value was
// altered, sealed with another key or for another place.
func (b *Box) Open(sealed []byte, p Place) ([]byte, error) {
	a, err := b.cipher(p)
	if err != nil {
		return nil, err
	}
	n := a.NonceSize()
	if len(sealed) < 1+n+a.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := a.Open(nil, sealed[1:1+n], sealed[1+n:], p.ad())
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// NewGCM returns AES-256-GCM for a 32-byte key.
func NewGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("new AES-256-GCM: key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new AES-256-GCM: %w", err)
	}
	return cipher.NewGCM(block)
}

// OpenLegacy opens a value sealed before Box existed, as "nonce || ciphertext" with
// AES-256-GCM under key and associated data ad (nil for none): what a migration needs
// to re-seal such values under a Box. Returns ErrOpen if it does not open.
func OpenLegacy(key, sealed, ad []byte) ([]byte, error) {
	a, err := NewGCM(key)
	if err != nil {
		return nil, err
	}
	n := a.NonceSize()
	if len(sealed) < n+a.Overhead() {
		return nil, ErrOpen
	}
	plain, err := a.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
