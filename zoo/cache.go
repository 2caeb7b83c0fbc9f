package zoo

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/retarget-dev/retarget/internal/atomicfile"
	"github.com/retarget-dev/retarget/internal/cachedir"

	"github.com/retarget-dev/retarget/internal/hdf5"
)

// Cache is the folder pretrained files are downloaded into.
type Cache struct {
	Dir string
	// Client makes the requests (http.DefaultClient when nil).
	Client *http.Client
	// Progress receives a progress bar while downloading (none when nil).
	Progress io.Writer
	// Retries is how many times a broken download is resumed (default 5).
	Retries int
}

// DefaultCacheDir is $RETARGET_CACHE, else $XDG_CACHE_HOME/retarget (the
// platform's user cache folder where XDG_CACHE_HOME is unset).
func DefaultCacheDir() (string, error) { return cachedir.Root() }

// NewCache opens a cache in dir, or in DefaultCacheDir when dir is "".
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &Cache{Dir: dir}, nil
}

// Path is where a weights file lives in the cache (whether or not it is
// there yet).
func (c *Cache) Path(w Weights) string { return filepath.Join(c.Dir, "models", filepath.Base(w.File)) }

// Cached returns the path of a weights file already in the cache.
func (c *Cache) Cached(w Weights) (string, bool) {
	p := c.Path(w)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p, true
	}
	return "", false
}

// ChecksumError is a downloaded or registered file whose checksum differs
// from the published one.
type ChecksumError struct {
	File    string
	Algo    HashAlgo
	Want    string
	Got     string
	Removed bool // the partial download was deleted
}

func (e *ChecksumError) Error() string {
	s := fmt.Sprintf("%s: %s checksum is %s, expected %s", e.File, e.Algo, e.Got, e.Want)
	if e.Removed {
		s += "; the downloaded file was deleted, run the pull again"
	} else {
		s += "; the file is not the published one"
	}
	return s
}

// HTTPError is a server refusing a download.
type HTTPError struct {
	URL    string
	Status string
	Code   int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("download %s: server answered %s", e.URL, e.Status)
}

// expected returns the algorithm and hash a file must match: the
// published one, else the SHA-256 recorded when it was first fetched.
func (c *Cache) expected(w Weights) (HashAlgo, string) {
	if w.Hash != "" {
		algo := w.HashAlgo
		if algo == "" {
			algo = MD5
			if len(w.Hash) == 64 {
				algo = SHA256
			}
		}
		return algo, strings.ToLower(w.Hash)
	}
	if b, err := os.ReadFile(c.Path(w) + ".sha256"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			return SHA256, f[0]
		}
	}
	return "", ""
}

// recordSHA256 writes the sidecar that pins a file without a published hash.
func (c *Cache) recordSHA256(w Weights, sum string) error {
	if w.Hash != "" {
		return nil
	}
	return os.WriteFile(c.Path(w)+".sha256", []byte(sum+"  "+filepath.Base(w.File)+"\n"), 0o644)
}

// HashFile computes a file's checksum in an algorithm, as lowercase hex.
func HashFile(path string, algo HashAlgo) (string, error) {
	var h hash.Hash
	switch algo {
	case MD5:
		h = md5.New()
	case SHA256, "":
		h = sha256.New()
	default:
		return "", fmt.Errorf("unknown hash algorithm %q", algo)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verify checks path against the expected hash and returns its SHA-256
// (for recording) when no hash is known yet.
func (c *Cache) verify(w Weights, path string) (sha string, err error) {
	algo, want := c.expected(w)
	if want == "" {
		return HashFile(path, SHA256)
	}
	got, err := HashFile(path, algo)
	if err != nil {
		return "", err
	}
	if got != want {
		return "", &ChecksumError{File: path, Algo: algo, Want: want, Got: got}
	}
	return "", nil
}

// Register copies a weights file the user already has into the cache
// (for machines without network access), after checking its checksum.
// Where no checksum is published (MobileNetV2) the file must at least be
// an HDF5 file; its SHA-256 is then recorded beside it.
func (c *Cache) Register(w Weights, src string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", src)
	}
	if w.Hash == "" {
		if err := checkHDF5(src); err != nil {
			return "", fmt.Errorf("%s is not a Keras weights file for %s (no checksum is published for it, so it could not be verified against a published one, and it is not a readable HDF5 file: %v)", src, w.File, err)
		}
	}
	sha, err := c.verify(w, src)
	if err != nil {
		return "", err
	}
	dst := c.Path(w)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := copyAtomic(src, dst); err != nil {
		return "", err
	}
	if sha != "" {
		if err := c.recordSHA256(w, sha); err != nil {
			return "", err
		}
	}
	return dst, nil
}

// checkHDF5 opens path as HDF5 (superblock and root group), the one check
// possible for a file without a published checksum.
func checkHDF5(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	_, err = hdf5.OpenReader(fh, st.Size())
	return err
}

func copyAtomic(src, dst string) error {
	if err := atomicfile.Copy(src, dst); err != nil {
		return fmt.Errorf("copy %s into the cache: %w", src, err)
	}
	return nil
}

var errIncomplete = errors.New("connection closed before the end of the file")
