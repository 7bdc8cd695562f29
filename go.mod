module echogate

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/cpuguy83/go-md2man/v2 v2.0.7
	github.com/lmittmann/tint v1.2.1
	golang.org/x/sys v0.49.0
)

require github.com/russross/blackfriday/v2 v2.1.0 // indirect
