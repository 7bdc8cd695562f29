package main

import (
	"testing"

	"echogate/internal/echotest"
)

// The integration tests run the real echogate binary (see echotest.Bin): $ECHOGATE_BIN, as make test builds
// it with -race, or one built into a temporary directory.
func TestMain(m *testing.M) { echotest.Main(m) }
