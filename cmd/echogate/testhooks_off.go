//go:build !echogate_testhooks

package main

import (
	"log/slog"

	"echogate/listeners"
)

// armTestHooks does nothing: the hooks exist only in binaries built with -tags echogate_testhooks (make
// test builds one), never in a release.
func armTestHooks(*listeners.Loop, *slog.Logger) {}
