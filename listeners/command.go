package listeners

// Command is a parsed admin command line.
type Command struct {
	Name []byte // the word after '/', up to the first white space; case-sensitive
	Arg  []byte // the rest of the line, trimmed
}

// ParseCommand parses a line that starts with '/'. The line may end in "\n" or "\r\n"; one trailing '\r' is
// stripped. It reports false when line is not a command.
func ParseCommand(line []byte) (Command, bool) {
	if len(line) == 0 || line[0] != '/' {
		return Command{}, false
	}
	line = line[1:]
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	end := 0
	for end < len(line) && !isSpace(line[end]) {
		end++
	}
	return Command{Name: line[:end], Arg: trimSpace(line[end:])}, true
}

func isSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\r', '\n', '\v', '\f':
		return true
	}
	return false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// Replies that users' scripts match on. They never change.
var (
	replyBusy            = []byte("server busy\n")
	replyTooLong         = []byte("ERR too-long-line\n")
	replyLineTimeout     = []byte("ERR line-timeout\n")
	replyUnknown         = []byte("ERR unknown-command\n")
	replyUnknownArg      = []byte("ERR unknown-argument\n")
	replyUnknownListener = []byte("ERR unknown-listener\n")
	replyTokenRequired   = []byte("ERR shutdown-token-required\n")
	replyLoopbackOnly    = []byte("ERR shutdown-loopback-required\n")
	replyTokenMissing    = []byte("ERR shutdown-token-missing\n")
	replyTokenInvalid    = []byte("ERR shutdown-token-invalid\n")
	replyLockedOut       = []byte("ERR shutdown-locked-out\n")
	replyShutdownOK      = []byte("OK, shutting down\n")
	replyShutdownUDP     = []byte("ERR shutdown-not-allowed\n")
	replyDatagramTooLong = []byte("ERR datagram-truncated\n")
	replyHelp            = []byte("commands: /time /stats [json [NAME]] /whoami [json] /hostname /version /help /shutdown TOKEN\n")
	replyHelpUDP         = []byte("commands: /time /stats [json [NAME]] /whoami [json] /hostname /version /help\n")
)
