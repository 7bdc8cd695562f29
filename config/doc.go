// Package config decodes, validates and diffs echogate's TOML configuration; it never opens sockets.
package config
