package cachedir

import (
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	t.Setenv("RETARGET_CACHE", "/x/cache")
	if d, _ := Root(); d != "/x/cache" {
		t.Fatalf("RETARGET_CACHE ignored: %s", d)
	}
	t.Setenv("RETARGET_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/y")
	if d, _ := Root(); d != filepath.Join("/y", "retarget") {
		t.Fatalf("XDG_CACHE_HOME ignored: %s", d)
	}
}
