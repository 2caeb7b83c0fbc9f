// Package version holds the version string of the retarget tool, written into
// every file it creates and printed by `retarget version`.
package version

import "runtime/debug"

// Name is the tool name recorded in files retarget writes.
const Name = "retarget"

// Override is set at link time for releases:
//
//	go build -ldflags "-X github.com/retarget-dev/retarget/internal/version.Override=v1.2.3"
var Override string

// String returns the release version, else the module version Go recorded
// at build time, else "devel" with the VCS revision when Go stamped one.
func String() string {
	if Override != "" {
		return Override
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		return "devel"
	case dirty:
		return "devel+" + rev + "-dirty"
	}
	return "devel+" + rev
}
