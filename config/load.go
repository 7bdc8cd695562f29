package config

import (
	"fmt"
	"os"
)

// Load reads the file at path, decodes and validates it, and reads the listeners' tokens
// (credentials from $CREDENTIALS_DIRECTORY). Every error is an *Error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("read config: %v", unwrapPath(err))}
	}
	cfg, err := Decode(path, data)
	if err != nil {
		return nil, err
	}
	if err := LoadTokens(cfg, os.Getenv("CREDENTIALS_DIRECTORY")); err != nil {
		return nil, err
	}
	return cfg, nil
}
