package keystore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FileStore is the default KeyStore: a directory (mode 0700) holding one
// JSON file (mode 0600) per household, named after the SHA-256 of the
// household id. Every write goes to a temporary file that is fsynced, then
// linked or renamed into place, and the directory is fsynced, so a crash
// leaves either the old or the new file, never a torn one.
//
// Erasure overwrites the key file in place with zeros, fsyncs, then renames
// a tombstone over it. This is the best a program can do on a file system;
// copy-on-write file systems, SSD wear levelling and backups may keep old
// blocks, so keep the key directory off backups that outlive the erasure
// period (see docs/decisions/0012-*.md).
//
// One process should own a directory at a time. Safe for concurrent use.
type FileStore struct {
	dir string
}

var _ KeyStore = (*FileStore)(nil)

// OpenFileStore opens (creating if needed) the key directory dir. It must be
// apart from the event log's files.
func OpenFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("keystore: the key directory is empty; give a path apart from the event store")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: create %s: %w", dir, err)
	}
	return &FileStore{dir: dir}, nil
}

// fileKey is the on-disk form of a Key.
type fileKey struct {
	HouseholdID string    `json:"household_id"`
	KeyID       string    `json:"key_id"`
	Secret      []byte    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ErasedAt    time.Time `json:"erased_at,omitzero"`
	Wrapped     []byte    `json:"wrapped,omitempty"`
	KEKID       string    `json:"kek_id,omitempty"`
}

func (s *FileStore) path(householdID string) string {
	h := sha256.Sum256([]byte(householdID))
	return filepath.Join(s.dir, hex.EncodeToString(h[:])+".key")
}

// Get implements KeyStore.
func (s *FileStore) Get(_ context.Context, householdID string) (Key, error) {
	b, err := os.ReadFile(s.path(householdID))
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, ErrNoKey
	}
	if err != nil {
		return Key{}, fmt.Errorf("keystore: read key of household %s: %w", householdID, err)
	}
	var fk fileKey
	if err := json.Unmarshal(b, &fk); err != nil {
		return Key{}, fmt.Errorf("keystore: key file of household %s is damaged: %w", householdID, err)
	}
	if fk.HouseholdID != householdID {
		return Key{}, fmt.Errorf("keystore: key file of household %s belongs to another household", householdID)
	}
	if err := validStored(Key(fk)); err != nil {
		return Key{}, fmt.Errorf("keystore: key file of household %s: %w", householdID, err)
	}
	return Key(fk), nil
}

// validStored checks a live key as stored: a whole key in clear, or a
// wrapped one with its KEK's id; erased, neither.
func validStored(k Key) error {
	switch {
	case k.Erased():
		if k.Secret != nil || k.Wrapped != nil {
			return errors.New("an erased key still holds key material")
		}
	case k.Wrapped != nil:
		if k.Secret != nil || k.KEKID == "" || len(k.Wrapped) > maxWrapped {
			return fmt.Errorf("a wrapped key of %d bytes, KEK %q, with a key in clear: %v", len(k.Wrapped), k.KEKID, k.Secret != nil)
		}
	case len(k.Secret) != KeySize:
		return fmt.Errorf("a key of %d bytes, want %d", len(k.Secret), KeySize)
	}
	return nil
}

// Create implements KeyStore. It links the new file into place, which fails
// if a file is already there, so two creators never both win.
func (s *FileStore) Create(_ context.Context, k Key) error {
	if err := validStored(k); err != nil {
		return fmt.Errorf("keystore: store key of household %s: %w", k.HouseholdID, err)
	}
	tmp, err := s.writeTemp(fileKey(k))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, s.path(k.HouseholdID)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrKeyExists
		}
		return fmt.Errorf("keystore: store key of household %s: %w", k.HouseholdID, err)
	}
	return s.syncDir()
}

// Erase implements KeyStore. A key file that no longer parses (e.g. left
// zeroed by a crash during an earlier Erase) is erased too.
func (s *FileStore) Erase(ctx context.Context, householdID string, erasedAt time.Time) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	old, err := s.Get(ctx, householdID)
	switch {
	case err == nil && old.Erased():
		return nil
	case err != nil:
		old = Key{HouseholdID: householdID}
	}
	p := s.path(householdID)
	if !errors.Is(err, ErrNoKey) {
		if err := overwrite(p); err != nil {
			return err
		}
	}
	tomb := fileKey{HouseholdID: householdID, KeyID: old.KeyID, CreatedAt: old.CreatedAt, ErasedAt: erasedAt.UTC()}
	tmp, err := s.writeTemp(tomb)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keystore: erase key of household %s: %w", householdID, err)
	}
	return s.syncDir()
}

// overwrite replaces a file's bytes with zeros in place and fsyncs it.
func overwrite(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keystore: open key file to erase: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("keystore: erase: %w", err)
	}
	if _, err := f.WriteAt(make([]byte, st.Size()), 0); err != nil {
		return fmt.Errorf("keystore: erase: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("keystore: erase: %w", err)
	}
	return f.Close()
}

// writeTemp writes fk to a new fsynced 0600 file in the directory and
// returns its path.
func (s *FileStore) writeTemp(fk fileKey) (string, error) {
	b, err := json.Marshal(fk)
	if err != nil {
		return "", fmt.Errorf("keystore: encode key: %w", err)
	}
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("keystore: write key: %w", err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("keystore: write key: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(b); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("keystore: write key: %w", err)
	}
	return name, nil
}

func (s *FileStore) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("keystore: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keystore: sync directory: %w", err)
	}
	return nil
}

// lock takes the directory's exclusive lock (flock of the directory
// itself), which Erase and Rewrap hold, so that a rewrap never puts back a
// key erased meanwhile (by this process or another).
func (s *FileStore) lock() (unlock func(), err error) {
	f, err := os.Open(s.dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: lock the key directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("keystore: lock the key directory: %w", err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// Rewrap implements Rewrapper: each live key file is read, and replaced
// (a new file renamed over it) when f changes it, under the directory's
// lock.
func (s *FileStore) Rewrap(ctx context.Context, f func(Key) (Key, bool, error)) (int, error) {
	unlock, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("keystore: rewrap: %w", err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := filepath.Join(s.dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return n, fmt.Errorf("keystore: rewrap: %w", err)
		}
		var fk fileKey
		if err := json.Unmarshal(b, &fk); err != nil || s.path(fk.HouseholdID) != p {
			return n, fmt.Errorf("keystore: rewrap: key file %s is damaged", e.Name())
		}
		k := Key(fk)
		if k.Erased() {
			continue
		}
		if err := validStored(k); err != nil {
			return n, fmt.Errorf("keystore: rewrap: key file of household %s: %w", k.HouseholdID, err)
		}
		nk, changed, err := f(k)
		if err != nil {
			return n, err
		}
		if !changed {
			continue
		}
		tmp, err := s.writeTemp(fileKey(nk))
		if err != nil {
			return n, err
		}
		// The old file, open across the rename, is zeroed once the new
		// one is in place (as Erase does, the best a file system allows):
		// a crash leaves the old or the new key, never neither.
		old, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			os.Remove(tmp)
			return n, fmt.Errorf("keystore: rewrap: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			old.Close()
			os.Remove(tmp)
			return n, fmt.Errorf("keystore: rewrap: %w", err)
		}
		if _, err := old.WriteAt(make([]byte, len(b)), 0); err == nil {
			_ = old.Sync()
		}
		old.Close()
		n++
	}
	if n > 0 {
		return n, s.syncDir()
	}
	return n, nil
}
