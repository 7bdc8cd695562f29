package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"echogate/internal/echotest"
)

// TestExamples checks every examples/*.toml, so that a file added later is checked too: it opens with a
// comment header, `echogate check` accepts it, and `echogate config` prints it as a config that check
// accepts and that prints again as the same keys and values (only the source comments change).
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../examples/*.toml")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples/*.toml: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^(#.*\n){2,}`).Match(text) {
				t.Errorf("%s does not open with a comment header of at least two lines", file)
			}
			if _, stderr, code := echotest.RunCLI(t, "check", "-config", file); code != 0 {
				t.Fatalf("check %s: exit %d\n%s", file, code, stderr)
			}
			effective := effectiveConfig(t, file)
			again := effectiveConfig(t, echotest.WriteConfig(t, effective))
			if got, want := withoutComments(again), withoutComments(effective); got != want {
				t.Errorf("config of config's output differs:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// effectiveConfig runs `echogate config -config file`, checks that its output passes `echogate check`, and
// returns it.
func effectiveConfig(t *testing.T, file string) string {
	t.Helper()
	stdout, stderr, code := echotest.RunCLI(t, "config", "-config", file)
	if code != 0 {
		t.Fatalf("config -config %s: exit %d\n%s", file, code, stderr)
	}
	if _, stderr, code := echotest.RunCLI(t, "check", "-config", echotest.WriteConfig(t, stdout)); code != 0 {
		t.Fatalf("check of config's output: exit %d\n%s\n%s", code, stderr, stdout)
	}
	return stdout
}

// withoutComments drops comment lines and trailing comments (echogate writes none inside strings).
func withoutComments(text string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// k8sDocs is what TestKubernetesExample reads of the manifests.
type k8sDocs []struct {
	Kind     string                `json:"kind"`
	Metadata struct{ Name string } `json:"metadata"`
	Data     map[string]string     `json:"data"`
	Spec     struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Args         []string `json:"args"`
					VolumeMounts []struct {
						Name, MountPath, SubPath string
					} `json:"volumeMounts"`
				} `json:"containers"`
				Volumes []struct {
					Name      string
					ConfigMap struct{ Name string } `json:"configMap"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// TestKubernetesExample parses examples/kubernetes/echogate.yaml as YAML (python3's yaml module, the
// parser at hand: the module graph has no YAML library) and checks that it is a ConfigMap whose
// echogate.toml passes `echogate check`, and a DaemonSet that runs it from the ConfigMap's mount without
// subPath (a subPath mount is never updated, so it would never reload).
func TestKubernetesExample(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil || exec.Command(python, "-c", "import yaml").Run() != nil {
		t.Skip("python3 with its yaml module is not installed (.ci/run installs python3-yaml)")
	}
	out, err := exec.Command(python, "-c", "import json, sys, yaml; "+
		"print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))", "../../examples/kubernetes/echogate.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("the manifests are not YAML: %v\n%s", err, out)
	}
	var docs k8sDocs
	if err := json.Unmarshal(out, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind != "ConfigMap" || docs[1].Kind != "DaemonSet" {
		t.Fatalf("want a ConfigMap and a DaemonSet, got %+v", docs)
	}
	path := echotest.WriteConfig(t, docs[0].Data["echogate.toml"])
	if _, stderr, code := echotest.RunCLI(t, "check", "-config", path); code != 0 {
		t.Fatalf("check of the ConfigMap's echogate.toml: exit %d\n%s", code, stderr)
	}
	pod := docs[1].Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.Volumes) != 1 || pod.Volumes[0].ConfigMap.Name != docs[0].Metadata.Name {
		t.Fatalf("the DaemonSet does not mount the ConfigMap %q: %+v", docs[0].Metadata.Name, pod)
	}
	c := pod.Containers[0]
	i := slices.Index(c.Args, "-config")
	if len(c.Args) == 0 || c.Args[0] != "run" || i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("the container does not run -config: %v", c.Args)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || m.Name == pod.Volumes[0].Name && m.SubPath == "" &&
			c.Args[i+1] == filepath.Join(m.MountPath, "echogate.toml")
	}
	if !mounted {
		t.Errorf("-config %s is not echogate.toml in the ConfigMap's mount (without subPath): %+v", c.Args[i+1], c.VolumeMounts)
	}
}

// TestConfigCommandRefusesBadFile checks that `echogate config` prints a bad file's positioned errors as
// check does (exit 1), and wants -config (exit 2).
func TestConfigCommandRefusesBadFile(t *testing.T) {
	t.Parallel()
	path := echotest.WriteConfig(t, pListenerHead+"max_conn = 10\n")
	stdout, stderr, code := echotest.RunCLI(t, "config", "-config", path)
	if re := pPositioned(path, "5", `unknown key "max_conn"`); code != 1 || stdout != "" || !re.MatchString(stderr) {
		t.Errorf("config of a bad file: exit %d, stdout %q, stderr %q; want exit 1 and %s", code, stdout, stderr, re)
	}
	if _, stderr, code := echotest.RunCLI(t, "config"); code != 2 || !strings.Contains(stderr, "-config FILE is required") {
		t.Errorf("config without -config: exit %d, %q", code, stderr)
	}
}
