package deploy

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// parseDockerfile parses deploy/Dockerfile with BuildKit's own parser.
func parseDockerfile(t *testing.T) ([]instructions.Stage, map[string]string) {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("Dockerfile: parser warnings: %+v", res.Warnings)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	return stages, args
}

// goDirective is the go directive of the main module's go.mod.
func goDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("../go.mod: no go directive")
	}
	return string(m[1])
}

// TestDockerfile checks the image's shape: a Go build stage on go.mod's
// Go, static binaries (CGO_ENABLED=0), a scratch base with no
// shell and nothing run in it, a non-root numeric user, an exec-form health
// check and entry point.
func TestDockerfile(t *testing.T) {
	stages, args := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and the final image", len(stages))
	}
	build, final := stages[0], stages[1]
	lex := shell.NewLex('\\')
	base, err := lex.ProcessWordWithMatches(build.BaseName, shell.EnvsFromSlice([]string{"GO_VERSION=" + args["GO_VERSION"]}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "golang:" + goDirective(t) + "-"; !strings.HasPrefix(base.Result, want) || build.Name != "build" {
		t.Errorf("build stage %q FROM %s: want stage build FROM %s... (go.mod's go directive)", build.Name, base.Result, want)
	}
	cgoOff := false
	for _, cmd := range build.Commands {
		if e, ok := cmd.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				cgoOff = cgoOff || kv.Key == "CGO_ENABLED" && kv.Value == "0"
			}
		}
	}
	if !cgoOff {
		t.Error("build stage: no ENV CGO_ENABLED=0")
	}

	// scratch: the project names no image registry (only Docker's default
	// one serves golang and scratch is none).
	if final.BaseName != "scratch" {
		t.Errorf("final stage FROM %s: want scratch", final.BaseName)
	}
	var user string
	var health *instructions.HealthCheckCommand
	var entry *instructions.EntrypointCommand
	var copied, certs bool
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.RunCommand:
			t.Errorf("final stage: RUN %v: the image has no shell", c.CmdLine)
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			health = c
		case *instructions.EntrypointCommand:
			entry = c
		case *instructions.CopyCommand:
			copied = copied || c.From == "build" && c.DestPath == "/usr/local/bin/"
			certs = certs || c.From == "build" && strings.HasPrefix(c.DestPath, "/etc/ssl/certs/")
		}
	}
	if !certs {
		t.Error("final stage: no CA certificates copied into /etc/ssl/certs/ (TLS to S3 and Kafka)")
	}
	if !copied {
		t.Error("final stage: the binaries are not copied from the build stage into /usr/local/bin/")
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(user) {
		t.Errorf("final stage: USER %q: want a numeric non-root user (runAsNonRoot can only check a number)", user)
	}
	if health == nil || len(health.Health.Test) < 2 || health.Health.Test[0] != "CMD" || !strings.HasPrefix(health.Health.Test[1], "/usr/local/bin/") {
		t.Errorf("final stage: HEALTHCHECK %+v: want the exec form of a binary in the image (no shell)", health)
	}
	if entry == nil || entry.PrependShell || len(entry.CmdLine) != 1 || entry.CmdLine[0] != "/usr/local/bin/ingestd" {
		t.Errorf("final stage: ENTRYPOINT %+v: want [\"/usr/local/bin/ingestd\"]", entry)
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildLog  []byte
)

// binaries runs the Dockerfile's build stage by hand, in the repository
// root (the build context): its ENV and ARG defaults, then each RUN's
// shell command, with OUT (the build stage's output directory) a temporary
// directory. It returns that directory. docker build is not run: no
// container engine runs here.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// Until the end: a t.Fatal in here leaves the Once done.
		buildErr = errors.New("the build stage did not finish")
		dir, err := os.MkdirTemp("", "lakestream-deploy-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		stages, _ := parseDockerfile(t)
		envs := os.Environ()
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		for _, cmd := range stages[0].Commands {
			switch c := cmd.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					envs = append(envs, kv.Key+"="+kv.Value)
				}
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					v := ""
					if kv.Value != nil {
						v = *kv.Value
					}
					if kv.Key == "OUT" {
						v = buildDir
					}
					envs = append(envs, kv.Key+"="+v)
				}
			case *instructions.RunCommand:
				if !c.PrependShell || len(c.CmdLine) != 1 {
					buildErr = fmt.Errorf("RUN %q: want the shell form (the test runs it with sh)", c.CmdLine)
					return
				}
				run := exec.Command("sh", "-ec", c.CmdLine[0])
				run.Dir, run.Env = root, envs
				out, err := run.CombinedOutput()
				buildLog = append(buildLog, out...)
				if err != nil {
					buildErr = err
					return
				}
			}
		}
		buildErr = nil
	})
	if buildErr != nil {
		t.Fatalf("the Dockerfile's build stage: %v\n%s", buildErr, buildLog)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// TestDockerfileBuildStage runs the build stage's commands: ingestd (and
// the compactor, if cmd/compactor exists) come out statically linked and
// run.
func TestDockerfileBuildStage(t *testing.T) {
	dir := binaries(t)
	want := []string{"ingestd"}
	if _, err := os.Stat("../cmd/compactor"); err == nil {
		want = []string{"compactor", "ingestd"} // ReadDir's order
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("the build stage made %v, want %v", got, want)
	}
	for _, name := range got {
		path := filepath.Join(dir, name)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		libs, _ := f.ImportedLibraries()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has an ELF interpreter: not statically linked", name)
			}
		}
		f.Close()
		if len(libs) > 0 {
			t.Errorf("%s needs shared libraries %v", name, libs)
		}
	}
	out, err := exec.Command(filepath.Join(dir, "ingestd"), "help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ingestd run") {
		t.Errorf("ingestd help: %v\n%s", err, out)
	}
}
