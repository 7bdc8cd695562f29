// Package systemd speaks to systemd for echogate: it adopts socket-activated fds, sends sd_notify
// messages, reads the watchdog interval and credentials, and formats logs for journald.
package systemd
