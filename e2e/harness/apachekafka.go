package harness

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables that choose the Kafka the e2e tests run against and
// locate the Apache Kafka broker.
const (
	// EnvKafka is "kfake" (the default: franz-go's in-process kfake),
	// "kafka" (Apache Kafka brokers, JVMs started from the jars of `make
	// kafka`) or "both".
	EnvKafka = "LAKESTREAM_KAFKA"
	// EnvKafkaHome is the directory `make kafka` fills
	// (.tools/kafka-<version>): libs/ holds the broker's jars. Unset, the
	// only .tools/kafka-*/ of the module that `make kafka` completed.
	EnvKafkaHome = "LAKESTREAM_KAFKA_HOME"
)

// The kinds of Kafka.
const (
	KindKfake = "kfake"
	KindKafka = "kafka"
)

// KafkaKinds lists the kinds of Kafka EnvKafka asks for.
func KafkaKinds() ([]string, error) {
	switch v := os.Getenv(EnvKafka); v {
	case "", KindKfake:
		return []string{KindKfake}, nil
	case KindKafka:
		return []string{KindKafka}, nil
	case "both":
		return []string{KindKfake, KindKafka}, nil
	default:
		return nil, fmt.Errorf("%s=%q: want kfake, kafka or both", EnvKafka, v)
	}
}

// KafkaHome returns the directory of the Apache Kafka broker's jars
// (EnvKafkaHome, else the one `make kafka` installed under .tools/).
func KafkaHome() (string, error) {
	home := os.Getenv(EnvKafkaHome)
	if home == "" {
		done, _ := filepath.Glob(filepath.Join(repoRoot(), ".tools", "kafka-*", ".verified"))
		switch len(done) {
		case 0:
			return "", fmt.Errorf("the Apache Kafka broker is not installed: run `make kafka` (it fills .tools/kafka-<version>/) or set %s", EnvKafkaHome)
		case 1:
			home = filepath.Dir(done[0])
		default:
			return "", fmt.Errorf("several Apache Kafka versions under .tools/ (%s): set %s to one", strings.Join(done, ", "), EnvKafkaHome)
		}
	}
	jars, _ := filepath.Glob(filepath.Join(home, "libs", "kafka_2.13-*.jar"))
	if len(jars) != 1 {
		return "", fmt.Errorf("%s: want one libs/kafka_2.13-<version>.jar, found %d: run `make kafka`", home, len(jars))
	}
	return home, nil
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// jvmFlags start a broker in about two seconds on a small machine and keep
// three of them small: the C1 compiler only, one compiler thread, the
// serial collector, a small heap.
var jvmFlags = []string{"-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
	"-XX:-UsePerfData", "-Djava.awt.headless=true"}

// startTimeout bounds a cluster's start (format included) and a node's
// restart: on two cores shared with other work, three JVMs have taken two
// minutes to start.
const startTimeout = 3 * time.Minute

// ClassArchive is the file, in KafkaHome, of the class data archive
// ArchiveKafkaClasses writes: the broker's classes parsed, verified and
// laid out as the JVM maps them, which takes about 40% off the CPU time of
// a start (format 1.0 s to 0.5 s, broker 2.7 s to 1.6 s, measured here).
// Used when present.
const ClassArchive = "kafka.jsa"

// ArchiveKafkaClasses writes home's ClassArchive: it starts a broker with
// -XX:ArchiveClassesAtExit, stops it with SIGTERM (the JVM writes the
// archive on its way out) and moves the archive in place.
func ArchiveKafkaClasses(home string) error {
	dir, err := os.MkdirTemp("", "lakestream-kafka-classes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(home, ClassArchive+".tmp")
	os.Remove(tmp)
	c, err := StartApacheKafka(ApacheKafkaOptions{Nodes: 1, DataDir: dir, Home: home, extraFlags: []string{"-XX:ArchiveClassesAtExit=" + tmp}})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.StopNode(0, syscall.SIGTERM); err != nil {
		return err
	}
	if _, err := os.Stat(tmp); err != nil {
		return fmt.Errorf("the broker wrote no class archive: %v: %s", err, c.logTail(0, 3000))
	}
	return os.Rename(tmp, filepath.Join(home, ClassArchive))
}

// log4jConfig sends the broker's log to its standard output (the node's log
// file), without the configuration dumps.
const log4jConfig = `status = error
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
`

// ApacheKafka is a cluster of Apache Kafka nodes in KRaft mode, each a
// combined broker and controller (a voter of the metadata quorum), JVMs
// running the jars of KafkaHome on 127.0.0.1, on ports picked free at start
// and kept across restarts. Its methods are safe for one goroutine.
type ApacheKafka struct {
	java, classpath, log4j string
	// archive is the ClassArchive used, "" for none; extra are more
	// flags of the brokers' JVMs.
	archive string
	extra   []string
	nodes   []*kafkaNode
	// StartTime is how long the first start of the cluster took, format
	// included, until every node served metadata listing them all;
	// FormatTime the format's part (the nodes formatted in parallel).
	StartTime, FormatTime time.Duration
}

type kafkaNode struct {
	id             int32
	addr, ctrlAddr string
	secureAddr     string // the SASL_SSL listener's, with ApacheKafkaOptions.Secure
	config         string
	logPath        string
	starts         int
	proc           *Process
}

// ApacheKafkaOptions configures StartApacheKafka.
type ApacheKafkaOptions struct {
	// Nodes is the number of nodes, each a broker and a voter.
	Nodes int
	// DataDir holds the nodes' data and configuration (required).
	DataDir string
	// LogDir holds the nodes' logs, kafka-<id>.log (default DataDir).
	LogDir string
	// MinSessionTimeout is the shortest group session timeout the brokers
	// accept (default the broker's, 6 s).
	MinSessionTimeout time.Duration
	// Home is the directory of the jars (default KafkaHome()).
	Home string
	// Secure adds a SASL_SSL listener to every node (secure.go).
	Secure *SecureListener

	extraFlags []string
}

// StartApacheKafka formats and starts a cluster and waits until every node
// serves and lists all of them. On error nothing is left running.
func StartApacheKafka(o ApacheKafkaOptions) (*ApacheKafka, error) {
	if o.Nodes < 1 || o.DataDir == "" {
		return nil, fmt.Errorf("apache kafka: want at least one node and a data directory, got %d nodes, dir %q", o.Nodes, o.DataDir)
	}
	if o.LogDir == "" {
		o.LogDir = o.DataDir
	}
	home := o.Home
	if home == "" {
		var err error
		if home, err = KafkaHome(); err != nil {
			return nil, err
		}
	}
	archive := filepath.Join(home, ClassArchive)
	if _, err := os.Stat(archive); err != nil || len(o.extraFlags) > 0 {
		archive = ""
	}
	java := "java"
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		java = filepath.Join(jh, "bin", "java")
	}
	begin := time.Now()
	// Ports are picked free and released just before the JVMs bind them:
	// another process may take one meanwhile, so a failed start is tried
	// again on other ports.
	var errs []error
	for attempt := range 3 {
		c := &ApacheKafka{java: java, classpath: filepath.Join(home, "libs", "*"), log4j: filepath.Join(o.DataDir, "log4j2.properties"),
			archive: archive, extra: o.extraFlags}
		err := c.start(o, filepath.Join(o.DataDir, fmt.Sprintf("attempt-%d", attempt)))
		if err == nil {
			c.StartTime = time.Since(begin)
			return c, nil
		}
		c.Close()
		errs = append(errs, err)
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (c *ApacheKafka) start(o ApacheKafkaOptions, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.log4j, []byte(log4jConfig), 0o644); err != nil {
		return err
	}
	perNode := 2
	if o.Secure != nil {
		if err := o.Secure.validate(); err != nil {
			return err
		}
		perNode = 3
	}
	ports, err := freePorts(perNode * o.Nodes)
	if err != nil {
		return err
	}
	var voters []string
	for i := range o.Nodes {
		n := &kafkaNode{id: int32(i), addr: fmt.Sprintf("127.0.0.1:%d", ports[perNode*i]), ctrlAddr: fmt.Sprintf("127.0.0.1:%d", ports[perNode*i+1]),
			config: filepath.Join(dir, fmt.Sprintf("kafka-%d.properties", i)), logPath: filepath.Join(o.LogDir, fmt.Sprintf("kafka-%d.log", i))}
		if o.Secure != nil {
			n.secureAddr = fmt.Sprintf("127.0.0.1:%d", ports[perNode*i+2])
		}
		c.nodes = append(c.nodes, n)
		voters = append(voters, fmt.Sprintf("%d@%s", i, n.ctrlAddr))
	}
	rf := min(3, o.Nodes)
	for i, n := range c.nodes {
		props := []string{
			"process.roles=broker,controller",
			fmt.Sprintf("node.id=%d", n.id),
			"controller.quorum.voters=" + strings.Join(voters, ","),
			fmt.Sprintf("listeners=PLAINTEXT://%s,CONTROLLER://%s", n.addr, n.ctrlAddr),
			"advertised.listeners=PLAINTEXT://" + n.addr,
			"controller.listener.names=CONTROLLER",
			"inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
			"log.dirs=" + filepath.Join(dir, fmt.Sprintf("data-%d", i)),
			"auto.create.topics.enable=false",
			fmt.Sprintf("default.replication.factor=%d", rf),
			"min.insync.replicas=1",
			fmt.Sprintf("offsets.topic.replication.factor=%d", rf),
			"offsets.topic.num.partitions=3",
			fmt.Sprintf("transaction.state.log.replication.factor=%d", rf),
			"transaction.state.log.min.isr=1",
			fmt.Sprintf("share.coordinator.state.topic.replication.factor=%d", rf),
			"share.coordinator.state.topic.min.isr=1",
			"group.initial.rebalance.delay.ms=0",
			// A crashed node is fenced (its leaderships and ISR places
			// given away) after 3 s, not the default 9 s.
			"broker.heartbeat.interval.ms=500",
			"broker.session.timeout.ms=3000",
			"replica.lag.time.max.ms=5000",
			"num.network.threads=2",
			"num.io.threads=2",
			"log.segment.bytes=16777216",
			"log.index.size.max.bytes=1048576",
		}
		if o.MinSessionTimeout > 0 {
			props = append(props, fmt.Sprintf("group.min.session.timeout.ms=%d", o.MinSessionTimeout.Milliseconds()))
		}
		if o.Secure != nil {
			if props, err = o.Secure.apply(props, n, dir); err != nil {
				return err
			}
		}
		if err := os.WriteFile(n.config, []byte(strings.Join(props, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	id, err := clusterID()
	if err != nil {
		return err
	}
	// Format every node's storage (a JVM each, in parallel).
	formatStart := time.Now()
	var wg sync.WaitGroup
	ferrs := make([]error, len(c.nodes))
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(c.jvmArgs(), "kafka.tools.StorageTool", "format", "-t", id, "-c", n.config)
			if o.Secure != nil {
				args = append(args, o.Secure.formatArgs()...)
			}
			if out, err := exec.CommandContext(ctx, c.java, args...).CombinedOutput(); err != nil {
				ferrs[i] = fmt.Errorf("format kafka node %d: %v\n%s", n.id, err, tail(string(out), 2000))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(ferrs...); err != nil {
		return err
	}
	c.FormatTime = time.Since(formatStart)
	for i := range c.nodes {
		if err := c.launch(i); err != nil {
			return err
		}
	}
	for i := range c.nodes {
		if err := c.waitServing(ctx, i, len(c.nodes)); err != nil {
			return err
		}
	}
	return nil
}

// clusterID is a random Kafka UUID: 16 bytes, base64 URL without padding,
// not starting with '-' (which the command line would take for a flag).
func clusterID() (string, error) {
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		if s := base64.RawURLEncoding.EncodeToString(b); s[0] != '-' {
			return s, nil
		}
	}
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// jvmArgs are the arguments of every JVM before the main class.
func (c *ApacheKafka) jvmArgs() []string {
	args := append([]string{}, jvmFlags...)
	if c.archive != "" {
		args = append(args, "-XX:SharedArchiveFile="+c.archive)
	}
	return append(args, "-Dlog4j2.configurationFile="+c.log4j, "-cp", c.classpath)
}

// launch starts node i's JVM.
func (c *ApacheKafka) launch(i int) error {
	n := c.nodes[i]
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.starts++
	fmt.Fprintf(log, "=== harness: start #%d of kafka node %d at %s\n", n.starts, n.id, time.Now().Format(time.RFC3339Nano))
	args := append(append(c.jvmArgs(), c.extra...), "kafka.Kafka", n.config)
	p, err := startProcess(exec.Command(c.java, args...), log)
	if err != nil {
		return fmt.Errorf("start kafka node %d: %w", n.id, err)
	}
	n.proc = p
	return nil
}

// waitServing waits until node i answers a metadata request listing at
// least want brokers, itself among them (a broker is listed once the
// controller has unfenced it).
func (c *ApacheKafka) waitServing(ctx context.Context, i, want int) error {
	n := c.nodes[i]
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		if n.proc.Exited() {
			return fmt.Errorf("kafka node %d exited (%s) while starting: %s", n.id, n.proc.ExitStatus(), c.logTail(i, 3000))
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := Metadata(rctx, cl)
		cancel()
		if err == nil && len(m.Brokers) >= want {
			for _, b := range m.Brokers {
				if b.NodeID == n.id {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka node %d did not serve within the deadline (last: %v, %d brokers listed): %s", n.id, err, len(m.Brokers), c.logTail(i, 3000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Addrs are the nodes' broker addresses, by node ID.
func (c *ApacheKafka) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr
	}
	return out
}

// Running reports whether node i's JVM runs.
func (c *ApacheKafka) Running(i int) bool { return c.nodes[i].proc != nil && !c.nodes[i].proc.Exited() }

// StopNode stops node i: SIGTERM is a controlled shutdown (the controller
// moves its leaderships first), waited for up to a minute before SIGKILL;
// SIGKILL is a crash (its leaderships move once the controller fences it).
// It returns how long the stop took.
func (c *ApacheKafka) StopNode(i int, sig syscall.Signal) (time.Duration, error) {
	n := c.nodes[i]
	if !c.Running(i) {
		return 0, fmt.Errorf("kafka node %d is not running", n.id)
	}
	begin := time.Now()
	switch sig {
	case syscall.SIGKILL:
		n.proc.KillGroup()
		return time.Since(begin), nil
	case syscall.SIGTERM:
		if err := n.proc.Signal(syscall.SIGTERM); err != nil {
			return 0, err
		}
		select {
		case <-n.proc.Done():
			return time.Since(begin), nil
		case <-time.After(time.Minute):
			n.proc.KillGroup()
			return time.Since(begin), fmt.Errorf("kafka node %d did not stop within a minute of SIGTERM: SIGKILLed", n.id)
		}
	default:
		return 0, fmt.Errorf("stop kafka node %d with %v: want SIGTERM or SIGKILL", n.id, sig)
	}
}

// StartNode starts node i again (same ports, same data) and waits until it
// serves and the cluster lists it. It returns how long that took.
func (c *ApacheKafka) StartNode(ctx context.Context, i int) (time.Duration, error) {
	if c.Running(i) {
		return 0, fmt.Errorf("kafka node %d is running", i)
	}
	begin := time.Now()
	if err := c.launch(i); err != nil {
		return 0, err
	}
	if err := c.waitServing(ctx, i, 1); err != nil {
		return time.Since(begin), err
	}
	return time.Since(begin), nil
}

// Close SIGKILLs every node's process group and waits for the JVMs to
// exit. It is idempotent.
func (c *ApacheKafka) Close() {
	for _, n := range c.nodes {
		if n.proc != nil {
			n.proc.KillGroup()
		}
	}
}

// LogTails returns the last n bytes of every node's log.
func (c *ApacheKafka) LogTails(n int) string {
	var b strings.Builder
	for i, node := range c.nodes {
		fmt.Fprintf(&b, "----- kafka node %d (%s) -----\n%s\n", node.id, node.logPath, c.logTail(i, n))
	}
	return b.String()
}

func (c *ApacheKafka) logTail(i, n int) string {
	data, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return err.Error()
	}
	return tail(string(data), n)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
