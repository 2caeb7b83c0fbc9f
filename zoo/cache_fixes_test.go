package zoo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/retarget-dev/retarget/internal/hdf5"
)

func TestRegisterWritesReadableFile(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	payload := testPayload(1_000)
	src := filepath.Join(t.TempDir(), "mine.h5")
	os.WriteFile(src, payload, 0o644)
	c := &Cache{Dir: t.TempDir()}
	p, err := c.Register(Weights{File: "vgg.h5", Hash: md5hex(payload), HashAlgo: MD5}, src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o644 {
		t.Errorf("cached file mode %o, want 644", m)
	}
}

func TestRegisterUnpublishedNeedsHDF5(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	w := MobileNetV2Weights(1, 224, true)
	junk := filepath.Join(t.TempDir(), "junk.h5")
	os.WriteFile(junk, testPayload(4_000), 0o644)
	_, err := c.Register(w, junk)
	if err == nil {
		t.Fatal("registered random bytes as MobileNetV2 weights")
	}
	for _, want := range []string{junk, "not a readable HDF5 file", "could not be verified against a published one"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, ok := c.Cached(w); ok {
		t.Error("a refused file is in the cache")
	}

	good := filepath.Join(t.TempDir(), "good.h5")
	hw, err := hdf5.Create(good)
	if err != nil {
		t.Fatal(err)
	}
	hw.Root().CreateGroup("model_weights")
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := c.Register(w, good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p + ".sha256"); err != nil {
		t.Errorf("no SHA-256 recorded: %v", err)
	}
}

func TestPullOfflineMentionsPartOnlyWhenKept(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), Retries: 1}
	// a closed port: the connection is refused and nothing is downloaded
	w := Weights{File: "x.h5", URL: "http://127.0.0.1:1/x.h5"}
	_, err := c.Pull(context.Background(), w)
	if err == nil {
		t.Fatal("pull from a closed port succeeded")
	}
	if strings.Contains(err.Error(), ".part") {
		t.Errorf("error mentions a partial download that does not exist: %v", err)
	}

	os.WriteFile(c.Path(w)+".part", []byte("half"), 0o644)
	_, err = c.Pull(context.Background(), w)
	if err == nil || !strings.Contains(err.Error(), "partial download is kept in "+c.Path(w)+".part") {
		t.Errorf("error should name the kept partial download: %v", err)
	}
}
