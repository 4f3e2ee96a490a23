package vault

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// objectStanza is the age stanza type of an object's file key wrapped with the
// instance's object key.
const objectStanza = "sproudchat-object"

// objectKey encrypts an instance's objects: an age recipient and identity over one
// symmetric key derived from the instance's data key. Each object is still a whole age
// file (its own random file key, ChaCha20-Poly1305 payload, header MAC); only the
// wrapping of that file key is symmetric — XChaCha20-Poly1305 under the object key —
// instead of one X25519 agreement per object, which cost more than compressing a
// chunk. Whoever opens key.age derives it; nothing else can.
type objectKey struct{ key []byte }

// Wrap seals the file key with a random nonce.
func (k objectKey) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	aead, err := chacha20poly1305.NewX(k.key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return []*age.Stanza{{Type: objectStanza, Args: []string{base64.RawStdEncoding.EncodeToString(nonce)},
		Body: aead.Seal(nil, nonce, fileKey, []byte(objectStanza))}}, nil
}

// Unwrap opens a file key sealed by Wrap; age.ErrIncorrectIdentity when no stanza is
// ours or none opens with this key.
func (k objectKey) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(k.key)
	if err != nil {
		return nil, err
	}
	for _, s := range stanzas {
		if s.Type != objectStanza || len(s.Args) != 1 {
			continue
		}
		nonce, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[0])
		if err != nil || len(nonce) != aead.NonceSize() {
			return nil, fmt.Errorf("%s stanza: bad nonce", objectStanza)
		}
		fileKey, err := aead.Open(nil, nonce, s.Body, []byte(objectStanza))
		if err != nil {
			continue
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}

var _ interface {
	age.Recipient
	age.Identity
} = objectKey{}

var errShortKey = errors.New("object key: want 32 bytes")

func newObjectKey(b []byte) (objectKey, error) {
	if len(b) != chacha20poly1305.KeySize {
		return objectKey{}, errShortKey
	}
	return objectKey{key: b}, nil
}
