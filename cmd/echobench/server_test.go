package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a tiny echo server and a fake echoload, chosen by environment variables.
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("ECHOBENCH_TEST_SERVE") != "":
		os.Exit(fakeServer(os.Getenv("ECHOBENCH_TEST_SERVE")))
	case os.Getenv("ECHOBENCH_TEST_LOAD") != "":
		os.Exit(fakeLoad(argAfter(os.Args, "-addr")))
	}
	os.Exit(m.Run())
}

// fakeServer echoes TCP on 127.0.0.1:port until SIGTERM; port "fail" exits at once with a message.
func fakeServer(port string) int {
	if port == "fail" {
		fmt.Fprintln(os.Stderr, "bind: address already in use")
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	return 0
}

// fakeLoad does 200 round trips against addr and prints an echoload JSON line.
func fakeLoad(addr string) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buf := make([]byte, 64)
	start := time.Now()
	for range 200 {
		if _, err := c.Write(buf); err != nil {
			return 1
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return 1
		}
	}
	fmt.Printf(`{"proto":"tcp","round_trips":200,"duration_s":%f,"rps":1}`+"\n", time.Since(start).Seconds())
	return 0
}

// argAfter returns the argument that follows flag in args.
func argAfter(args []string, flag string) string {
	for i, a := range args[:len(args)-1] {
		if a == flag {
			return args[i+1]
		}
	}
	return ""
}

func testServer(t *testing.T, port string) (*server, error) {
	t.Helper()
	t.Setenv("ECHOBENCH_TEST_SERVE", port)
	p, _ := strconv.Atoi(port)
	return startServer(context.Background(), "fake", "0", []string{os.Args[0]}, p)
}

func TestServerMeasure(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s, err := testServer(t, strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("ECHOBENCH_TEST_SERVE")
	defer s.stop()
	t.Setenv("ECHOBENCH_TEST_LOAD", "1")
	o := &options{echoload: os.Args[0], duration: time.Second}
	var sd side
	if err := measure(context.Background(), o, points[0], s, port, &sd); err != nil {
		t.Fatal(err)
	}
	if sd.RoundTrips != 200 || sd.CPUusPerRT <= 0 || len(sd.Runs) != 1 {
		t.Fatalf("side after one run: %+v", sd)
	}
	s.stop()
	if s.alive() {
		t.Fatal("server still alive after stop")
	}
}

func TestServerFailsAtStart(t *testing.T) {
	start := time.Now()
	_, err := testServer(t, "fail")
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("startServer error %v, want the server's stderr in it", err)
	}
	if d := time.Since(start); d > startTimeout {
		t.Fatalf("took %v to notice the exit", d)
	}
}
