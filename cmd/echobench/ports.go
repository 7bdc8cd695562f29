package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
)

// freePort returns a port on 127.0.0.1 that is free for both TCP and UDP right now.
func freePort() (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("probe a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both TCP and UDP on 127.0.0.1")
}

// freePortRange is where freeTCPPorts looks: below the usual ephemeral range (32768-60999), so the
// connections of the run cannot take these ports meanwhile.
const (
	freePortLow  = 20000
	freePortHigh = 32000
)

// freeTCPPorts returns n distinct TCP ports that are free on 127.0.0.1, probed from a random start in
// [freePortLow, freePortHigh).
func freeTCPPorts(n int) ([]int, error) {
	span := freePortHigh - freePortLow
	start := rand.IntN(span)
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	var ports []int
	for i := 0; i < span && len(ports) < n; i++ {
		port := freePortLow + (start+i)%span
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		held = append(held, ln)
		ports = append(ports, port)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("found only %d free TCP ports in %d-%d, need %d", len(ports), freePortLow, freePortHigh, n)
	}
	return ports, nil
}
