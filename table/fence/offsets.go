package fence

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Offsets are the next offsets to read, per partition of one topic.
type Offsets struct {
	Topic string
	Next  map[int32]int64
}

// String renders the offsets as HoodieStreamer's checkpoint key,
// "topic,0:next,1:next", partitions in ascending order.
func (o Offsets) String() string {
	parts := make([]int32, 0, len(o.Next))
	for p := range o.Next {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var b strings.Builder
	b.WriteString(o.Topic)
	for _, p := range parts {
		fmt.Fprintf(&b, ",%d:%d", p, o.Next[p])
	}
	return b.String()
}

// ValidateTopic reports whether name is a legal Kafka topic name.
func ValidateTopic(name string) error {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return fmt.Errorf("topic name %q: must be 1 to 249 characters and not . or ..", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q: character %q not in [a-zA-Z0-9._-]", name, c)
		}
	}
	return nil
}

// ParseOffsets parses "topic,0:next,1:next" (Offsets.String). Partitions
// and offsets must be non-negative and each partition appear once.
func ParseOffsets(s string) (Offsets, error) {
	fields := strings.Split(s, ",")
	if err := ValidateTopic(fields[0]); err != nil {
		return Offsets{}, fmt.Errorf("checkpoint key %q: %w", s, err)
	}
	o := Offsets{Topic: fields[0], Next: make(map[int32]int64, len(fields)-1)}
	for _, f := range fields[1:] {
		ps, os, ok := strings.Cut(f, ":")
		if !ok {
			return Offsets{}, fmt.Errorf("checkpoint key %q: %q is not partition:offset", s, f)
		}
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			return Offsets{}, fmt.Errorf("checkpoint key %q: bad partition %q", s, ps)
		}
		off, err := strconv.ParseInt(os, 10, 64)
		if err != nil || off < 0 {
			return Offsets{}, fmt.Errorf("checkpoint key %q: bad offset %q for partition %d", s, os, p)
		}
		if _, dup := o.Next[int32(p)]; dup {
			return Offsets{}, fmt.Errorf("checkpoint key %q: partition %d appears twice", s, p)
		}
		o.Next[int32(p)] = off
	}
	return o, nil
}

// FormatPartitions renders the partitions of topic a writer owns when it
// opens an instant, "topic,0,1,2", partitions in ascending order.
func FormatPartitions(topic string, partitions []int32) string {
	parts := slices.Clone(partitions)
	slices.Sort(parts)
	spec := topic
	for _, p := range parts {
		spec += "," + strconv.Itoa(int(p))
	}
	return spec
}

// ParsePartitions parses FormatPartitions' "topic,0,1,2" into Offsets whose
// Next holds 0 for every partition listed.
func ParsePartitions(spec string) (Offsets, error) {
	topic, list, _ := strings.Cut(spec, ",")
	parts := Offsets{Topic: topic, Next: map[int32]int64{}}
	if list != "" {
		for _, s := range strings.Split(list, ",") {
			p, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return Offsets{}, fmt.Errorf("partitions %q: bad partition %q", spec, s)
			}
			parts.Next[int32(p)] = 0
		}
	}
	return parts, nil
}
