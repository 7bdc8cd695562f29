package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// statusCommand prints what the running daemon serves: a table, or with -json the control socket's JSON
// object as it came. Exit 0 on success, 1 when the daemon answered with an error, 2 when it cannot be reached.
func statusCommand(args []string) int {
	fs := newFlagSet("status")
	path, control, asJSON, timeout := statusFlags(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	reply, sock, code := askDaemon("status", *path, *control, "status", *timeout)
	if code != 0 {
		return code
	}
	if !strings.HasPrefix(reply, "{") {
		fmt.Fprintln(os.Stderr, "echogate status:", reply)
		return reloadExit(reply) // error is 1; denied, busy are 2
	}
	if *asJSON {
		fmt.Println(reply)
		return 0
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(reply), &rep); err != nil {
		fmt.Fprintf(os.Stderr, "echogate status: bad answer from %s: %v\n", sock, err)
		return 2
	}
	printStatus(os.Stdout, rep, time.Now())
	return 0
}

// statusFlags declares the flags of `echogate status` on fs.
func statusFlags(fs *flag.FlagSet) (path, control *string, asJSON *bool, timeout *time.Duration) {
	path = fs.String("config", "", "the daemon's config `FILE`: its [daemon] control_socket finds the daemon")
	control = fs.String("control", "", "the daemon's control socket `PATH` (default: from -config, or $RUNTIME_DIRECTORY/control.sock)")
	asJSON = fs.Bool("json", false, "print one JSON object, for scripts")
	timeout = fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	return path, control, asJSON, timeout
}

// printStatus writes the report for a person: the daemon, one row of counters per listener, then each
// listener's settings.
func printStatus(w io.Writer, rep statusReport, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	up := ""
	if t := parseTime(rep.StartedAt); !t.IsZero() {
		up = fmt.Sprintf(" (up %s)", now.Sub(t).Truncate(time.Second))
	}
	fmt.Fprintf(tw, "echogate\t%s, pid %d, started %s%s\n", rep.Version, rep.PID, rep.StartedAt, up)
	fmt.Fprintf(tw, "config\t%s\n", orNone(rep.Config, "(-listen flags)"))
	fmt.Fprintf(tw, "config_sha256\t%s\n", orNone(rep.ConfigSHA256, "-"))
	fmt.Fprintf(tw, "state\t%s\n", rep.State)
	fmt.Fprintf(tw, "generation\t%d, loaded %s\n", rep.Generation, rep.LoadedAt)
	fmt.Fprintf(tw, "last reload\t%s\n", lastReloadText(rep.LastReload))
	fmt.Fprintf(tw, "control socket\t%s\n", rep.ControlSocket)
	fmt.Fprintf(tw, "clients\t%d in total; %d TCP connected, %d UDP active; reloads %d ok, %d failed\n",
		rep.TotalClients, rep.TCPConnected, rep.UDPActive, rep.ReloadsOK, rep.ReloadsFailed)
	_ = tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROTO\tADDRESS\tOPEN\tACCEPTED\tREFUSED\tLINES\tDATAGRAMS\tBYTES IN\tBYTES OUT\tDROPPED")
	for _, l := range rep.Listeners {
		c := l.Counters
		name := l.Name
		if l.Draining {
			name += " (draining)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", name, l.Protocol, orNone(l.Address, "-"),
			l.Open, c.Accepted, c.RefusedBusy+c.RefusedPerIP+c.RefusedCIDR, c.Lines, c.Datagrams, c.BytesIn,
			c.BytesOut, c.UDPDropped) // udp_dropped already holds the rate-limited and loop drops
	}
	_ = tw.Flush()

	fmt.Fprintln(w)
	for _, l := range rep.Listeners {
		if len(l.Settings) > 0 {
			fmt.Fprintf(w, "%s: %s\n", l.Name, settingsText(l.Settings))
		}
	}
}

func lastReloadText(r *reloadStatus) string {
	if r == nil {
		return "none since start"
	}
	s := r.Result + " at " + r.At
	if r.Generation > 0 {
		s += fmt.Sprintf(" (generation %d)", r.Generation)
	}
	if len(r.Failed) > 0 {
		s += ", not started: " + strings.Join(r.Failed, ",")
	}
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

// settingsText writes settings as key=value pairs in key order.
func settingsText(settings map[string]any) string {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + jsonText(settings[k])
	}
	return strings.Join(parts, " ")
}

// jsonText writes a decoded JSON value as the log lines do: lists as [a,b], a missing allow list as any.
func jsonText(v any) string {
	switch v := v.(type) {
	case nil:
		return "any"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		s := make([]string, len(v))
		for i, e := range v {
			s[i] = jsonText(e)
		}
		return "[" + strings.Join(s, ",") + "]"
	case string:
		return orNone(v, `""`)
	}
	return fmt.Sprint(v)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
