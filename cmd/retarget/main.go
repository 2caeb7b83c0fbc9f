// Command retarget inspects, runs and converts neural network models; see
// `retarget --help`.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
}

// errorLine is the message main prints: one "retarget: " prefix, also for
// errors (of package retarget) that already start with it.
func errorLine(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "retarget: ") {
		return msg
	}
	return "retarget: " + msg
}
