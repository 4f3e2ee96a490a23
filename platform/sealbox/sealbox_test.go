package sealbox_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/sproudstack/sproudchat/platform/sealbox"
)

func mustBox(t *testing.T, key []byte) *sealbox.Box {
	t.Helper()
	b, err := sealbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	box := mustBox(t, key)
	here := sealbox.Place{Table: "webhooks", Field: "url", Row: "42"}
	sealed := box.Seal([]byte("https://billing.example/hook"), here)
	if bytes.Contains(sealed, []byte("billing")) {
		t.Fatal("sealed value shows the plain text")
	}
	if got, err := box.Open(sealed, here); err != nil || string(got) != "https://billing.example/hook" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := box.Seal([]byte("https://billing.example/hook"), here); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are alike: the nonce is not fresh")
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	otherKey := bytes.Repeat([]byte{8}, 32)
	tests := []struct {
		name   string
		box    *sealbox.Box
		sealed []byte
		place  sealbox.Place
	}{
		{"another row", box, sealed, sealbox.Place{Table: "webhooks", Field: "url", Row: "43"}},
		{"another field", box, sealed, sealbox.Place{Table: "webhooks", Field: "secret", Row: "42"}},
		{"another table", box, sealed, sealbox.Place{Table: "notify_targets", Field: "url", Row: "42"}},
		{"parts shifted", box, sealed, sealbox.Place{Table: "webhooks", Field: "url4", Row: "2"}},
		{"another key", mustBox(t, otherKey), sealed, here},
		{"altered", box, altered, here},
		{"truncated", box, sealed[:20], here},
		{"empty", box, nil, here},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.box.Open(tc.sealed, tc.place); !errors.Is(err, sealbox.ErrOpen) {
				t.Errorf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

// TestKeysArePerPurpose: the key of one table and field is not the key of another, nor
// the secret key itself (what the old control-plane box used).
func TestKeysArePerPurpose(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	box := mustBox(t, key)
	sealed := box.Seal([]byte("x"), sealbox.Place{Table: "a", Field: "b"})
	if _, err := sealbox.OpenLegacy(key, sealed[1:], []byte("1:a1:b0:")); err == nil {
		t.Error("the value opens under the secret key itself: no key was derived")
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := sealbox.New(make([]byte, 31)); err == nil {
		t.Error("a 31-byte key was accepted")
	}
}

func TestOpenLegacy(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	a, err := sealbox.NewGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, a.NonceSize())
	sealed := a.Seal(nonce, nonce, []byte("old"), []byte("ad"))
	if got, err := sealbox.OpenLegacy(key, sealed, []byte("ad")); err != nil || string(got) != "old" {
		t.Errorf("OpenLegacy = %q, %v", got, err)
	}
	if _, err := sealbox.OpenLegacy(key, sealed, nil); !errors.Is(err, sealbox.ErrOpen) {
		t.Errorf("OpenLegacy without the ad = %v, want ErrOpen", err)
	}
}
