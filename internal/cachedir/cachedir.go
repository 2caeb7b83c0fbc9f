// Package cachedir names retarget's cache folder: $RETARGET_CACHE, else
// $XDG_CACHE_HOME/retarget (the user cache folder of the platform).
package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Root returns the cache folder every part of retarget shares.
func Root() (string, error) {
	if d := os.Getenv("RETARGET_CACHE"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder: set RETARGET_CACHE or XDG_CACHE_HOME (%v)", err)
	}
	return filepath.Join(base, "retarget"), nil
}
