// Command retarget inspects, runs and converts neural network models; see
// `retarget --help`.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "retarget: "+err.Error())
		os.Exit(1)
	}
}
