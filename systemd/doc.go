// Package systemd speaks to systemd for echogate: it adopts socket-activated fds, sends sd_notify
// messages, reads the watchdog interval, and formats logs for journald. (Credentials are read by config:
// see config.LoadTokens.)
package systemd
