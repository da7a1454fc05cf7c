// Command kafkaclasses writes the class data archive of the Apache Kafka
// broker the e2e tests run (harness.ArchiveKafkaClasses), which makes its
// JVMs start faster: make kafka runs it on the directory it filled.
//
//	go run ./e2e/kafkaclasses .tools/kafka-<version>
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/lakestream/lakestream/e2e/harness"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kafkaclasses <kafka home: the directory of libs/>")
		os.Exit(2)
	}
	begin := time.Now()
	if err := harness.ArchiveKafkaClasses(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaclasses:", err)
		os.Exit(1)
	}
	fmt.Printf("kafkaclasses: wrote %s/%s in %v\n", os.Args[1], harness.ClassArchive, time.Since(begin).Round(time.Millisecond))
}
