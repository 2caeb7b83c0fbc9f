package zoo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func testPayload(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(7)).Read(b)
	return b
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// flakyServer serves payload; the first full-body request is cut off after
// cut bytes by closing the connection.
func flakyServer(t *testing.T, payload []byte, cut int) (*httptest.Server, *int32, *[]string) {
	var calls int32
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := atomic.AddInt32(&calls, 1)
		ranges = append(ranges, r.Header.Get("Range"))
		if n == 1 && cut > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.WriteHeader(http.StatusOK)
			w.Write(payload[:cut])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "w.h5", time.Time{}, bytes.NewReader(payload))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &ranges
}

func TestPullResumesDroppedConnection(t *testing.T) {
	payload := testPayload(300_000)
	srv, calls, ranges := flakyServer(t, payload, 120_000)
	var bar bytes.Buffer
	c := &Cache{Dir: t.TempDir(), Progress: &bar}
	w := Weights{Name: "imagenet", File: "model.h5", URL: srv.URL + "/model.h5", Hash: md5hex(payload), HashAlgo: MD5}
	p, err := c.Pull(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, payload) {
		t.Fatalf("downloaded %d bytes, differs from the served file", len(got))
	}
	if *calls != 2 || (*ranges)[1] != "bytes=120000-" {
		t.Fatalf("calls %d, ranges %q: want a second request resuming at 120000", *calls, *ranges)
	}
	if _, err := os.Stat(p + ".part"); !os.IsNotExist(err) {
		t.Error("partial file left behind")
	}
	if !strings.Contains(bar.String(), "model.h5") {
		t.Errorf("no progress bar: %q", bar.String())
	}
	// cached: no new request
	if _, err := c.Pull(context.Background(), w); err != nil || *calls != 2 {
		t.Fatalf("second pull: %v, %d calls", err, *calls)
	}
}

func TestPullResumesAcrossRuns(t *testing.T) {
	payload := testPayload(50_000)
	srv, _, ranges := flakyServer(t, payload, 0)
	c := &Cache{Dir: t.TempDir()}
	w := Weights{File: "m.h5", URL: srv.URL + "/m.h5", Hash: md5hex(payload), HashAlgo: MD5}
	os.MkdirAll(filepath.Dir(c.Path(w)), 0o755)
	os.WriteFile(c.Path(w)+".part", payload[:20_000], 0o644)
	if _, err := c.Pull(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if (*ranges)[0] != "bytes=20000-" {
		t.Fatalf("ranges %q", *ranges)
	}
}

func TestPullChecksumMismatchDeletes(t *testing.T) {
	payload := testPayload(10_000)
	srv, _, _ := flakyServer(t, payload, 0)
	c := &Cache{Dir: t.TempDir()}
	w := Weights{File: "bad.h5", URL: srv.URL + "/bad.h5", Hash: strings.Repeat("0", 32), HashAlgo: MD5}
	_, err := c.Pull(context.Background(), w)
	var ce *ChecksumError
	if !errors.As(err, &ce) || !ce.Removed || ce.Got != md5hex(payload) {
		t.Fatalf("want a checksum error that removed the file, got %v", err)
	}
	if !strings.Contains(err.Error(), "deleted") {
		t.Errorf("message does not say the file was deleted: %v", err)
	}
	for _, p := range []string{c.Path(w), c.Path(w) + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists", p)
		}
	}
}

func TestPullUnpublishedHashPinsSHA256(t *testing.T) {
	payload := testPayload(5_000)
	srv, _, _ := flakyServer(t, payload, 0)
	c := &Cache{Dir: t.TempDir()}
	w := Weights{File: "mnv2.h5", URL: srv.URL + "/x"}
	p, err := c.Pull(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile(p + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := HashFile(p, SHA256)
	if !strings.HasPrefix(string(side), want) {
		t.Fatalf("sidecar %q, file sha256 %s", side, want)
	}
	// a different file registered later is refused
	other := filepath.Join(t.TempDir(), "other.h5")
	os.WriteFile(other, payload[:100], 0o644)
	if _, err := c.Register(w, other); err == nil {
		t.Fatal("registered a file that differs from the pinned one")
	}
}

func TestPullHTTPErrorNotRetried(t *testing.T) {
	var calls int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt32(&calls, 1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	c := &Cache{Dir: t.TempDir()}
	_, err := c.Pull(context.Background(), Weights{File: "x.h5", URL: srv.URL})
	var he *HTTPError
	if !errors.As(err, &he) || he.Code != 404 || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestRegister(t *testing.T) {
	payload := testPayload(2_000)
	src := filepath.Join(t.TempDir(), "mine.h5")
	os.WriteFile(src, payload, 0o644)
	c := &Cache{Dir: t.TempDir()}
	w := Weights{File: "vgg.h5", Hash: md5hex(payload), HashAlgo: MD5}
	p, err := c.Register(w, src)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, payload) {
		t.Fatal("registered copy differs")
	}
	w.Hash = strings.Repeat("a", 32)
	var ce *ChecksumError
	if _, err := c.Register(w, src); !errors.As(err, &ce) || ce.Removed {
		t.Fatalf("want checksum error, got %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal("the user's own file must never be deleted")
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("RETARGET_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if d, _ := DefaultCacheDir(); d != "/tmp/xdg/retarget" {
		t.Error(d)
	}
	t.Setenv("RETARGET_CACHE", "/tmp/rc")
	if d, _ := DefaultCacheDir(); d != "/tmp/rc" {
		t.Error(d)
	}
}
