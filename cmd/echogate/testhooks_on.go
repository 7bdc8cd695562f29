//go:build echogate_testhooks

package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"echogate/internal/logmsg"
	"echogate/listeners"
)

// armTestHooks arms what the integration tests need and no config can reach: with ECHOGATE_TEST_STALL set
// to a duration, each SIGUSR1 makes the event loop sleep that long, as a wedged loop would. It is compiled
// only with -tags echogate_testhooks.
func armTestHooks(loop *listeners.Loop, log *slog.Logger) {
	stall, err := time.ParseDuration(os.Getenv("ECHOGATE_TEST_STALL"))
	if err != nil || stall <= 0 {
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		for range sig {
			log.Info(logmsg.TestHook, "event", "stalling the event loop", "for", stall)
			loop.Submit(func() { time.Sleep(stall) })
		}
	}()
	log.Info(logmsg.TestHook, "event", "armed: SIGUSR1 stalls the event loop", "for", stall)
}
