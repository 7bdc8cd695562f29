// Package listeners is echogate's event loop: one goroutine owns an epoll fd, every listening socket and every
// connection, echoes TCP lines and UDP datagrams, and applies reload plans handed to it through Submit.
package listeners
