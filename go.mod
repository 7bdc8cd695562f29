module echogate

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/lmittmann/tint v1.2.1 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
