package logchain

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Keys are Ed25519 keys in PEM files OpenSSL reads as they are: the private
// key as PKCS #8 ("PRIVATE KEY"), the public key as SubjectPublicKeyInfo
// ("PUBLIC KEY"). A key's id is the first 16 bytes, in hex, of the SHA-256
// of its public key's DER encoding, which an auditor computes with
//
//	openssl pkey -pubin -in key.pub.pem -outform DER | sha256sum | cut -c1-32

// KeyID returns the id of a public key.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil { // cannot happen for a 32-byte Ed25519 key
		panic(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:16])
}

// GenerateKey returns a new key pair as PEM: the private key and the public key.
func GenerateKey() (private, public []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), nil
}

// maxKeyFileBytes bounds what a key file may hold.
const maxKeyFileBytes = 16 << 10

func readPEM(path, want string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w / 无法读取密钥文件", path, err)
	}
	if fi.Size() > maxKeyFileBytes {
		return nil, fmt.Errorf("key file %s is %d bytes; an Ed25519 PEM key is a few hundred / 密钥文件过大", path, fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w / 无法读取密钥文件", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != want {
		return nil, fmt.Errorf("key file %s holds no PEM block %q; create keys with `doorstep checkpoint keygen` / 密钥文件 %s 中没有 %q 块", path, want, path, want)
	}
	return block.Bytes, nil
}

// LoadPrivateKey reads a private key written by GenerateKey (or by
// `openssl genpkey -algorithm ed25519`).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w / 私钥无法解析", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key file %s: not an Ed25519 key / 不是 Ed25519 私钥", path)
	}
	return priv, nil
}

// LoadPublicKey reads a public key written by GenerateKey (or by
// `openssl pkey -pubout`).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w / 公钥无法解析", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("key file " + path + ": not an Ed25519 public key / 不是 Ed25519 公钥")
	}
	return pub, nil
}
