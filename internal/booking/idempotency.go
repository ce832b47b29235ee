package booking

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"
)

// Idempotency-Key answers hold the customer token, so they are never stored
// in plain text: the key is stored as a hash, and the answer is sealed with
// AES-256-GCM under a key derived (HKDF-SHA256) from the client's
// Idempotency-Key, which only the client knows. Reading the database is not
// enough to read a token back.

// IdempotencyKeyTTL is how long an idempotent answer is kept.
const IdempotencyKeyTTL = 24 * time.Hour

// IdempotencyClaimLease is how long a claimed key without an answer stays
// busy (409 idempotency_key_in_use) before another request may take it
// over: longer than a request can take (the payment provider's timeout and
// retries), so it only frees the key of a request that died half-way.
const IdempotencyClaimLease = 2 * time.Minute

// IdempotencyKeyHash identifies an Idempotency-Key in the database.
func IdempotencyKeyHash(key string) []byte {
	sum := sha256.Sum256([]byte("booking idempotency key\x00" + key))
	return sum[:]
}

func answerAEAD(key string) cipher.AEAD {
	k, err := hkdf.Key(sha256.New, []byte(key), nil, "booking idempotency answer", 32)
	if err != nil {
		panic(err) // 32 bytes from SHA-256 never fails
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// sealAnswer encrypts answer under the client's idempotency key.
func sealAnswer(key string, answer []byte) []byte {
	aead := answerAEAD(key)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, answer, nil)
}

var errSealed = errors.New("idempotent answer cannot be opened with this key")

// openAnswer decrypts a sealed answer with the client's idempotency key.
func openAnswer(key string, sealed []byte) ([]byte, error) {
	aead := answerAEAD(key)
	if len(sealed) < aead.NonceSize() {
		return nil, errSealed
	}
	out, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], nil)
	if err != nil {
		return nil, errSealed
	}
	return out, nil
}
