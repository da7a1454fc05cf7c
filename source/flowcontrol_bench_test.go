package source

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkFairness measures how evenly partitions are read after a stall:
// 8 partitions all hold a backlog spanning the same hour of event time, and
// partition 0 holds 50x the records of each other one (a hot partition).
// Every record's Kafka timestamp (set when producing) is its event time.
// The records handed out are cut into consecutive windows of 10,000 (the
// pipeline's batches), and the spread of event times (max - min) in each
// window is reported: its mean, median and maximum, in seconds of event
// time; and light-done-recs, the records handed out before the last light
// partition was read completely (how long they waited behind the hot one).
// A reader that keeps the partitions together has small spreads; one
// that races through the light partitions while the hot one lags behind has
// windows spanning most of the hour.
//
//	plain:     franz-go's PollRecords(ctx, 10000), no group.
//	fair:      the Reader with its defaults (1000 records / 1 MiB per
//	           partition per Poll, 4 MiB buffer per partition).
//	fair-skew: the same with MaxEventTimeSkew 1m, the pipeline calling
//	           ObserveEventTime for every record.
//
// Run: go test -run '^$' -bench Fairness -benchtime 1x ./source/
func BenchmarkFairness(b *testing.B) {
	const (
		topic  = "fairness"
		parts  = 8
		light  = 4000 // records of each light partition
		heavy  = 50 * light
		total  = heavy + (parts-1)*light
		window = 10000
		stall  = time.Hour
	)
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(parts, topic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for p := range int32(parts) {
		n := light
		if p == 0 {
			n = heavy
		}
		step := stall / time.Duration(n)
		produceSized(b, c, topic, p, 0, n, 24, 0, func(i int) time.Time { return t0.Add(time.Duration(i) * step) })
	}

	// spreads reads everything and returns the spread of every window, and
	// how many records were handed out before the last light partition
	// was read completely (starvation of the light partitions).
	spreads := func(b *testing.B, next func(context.Context) []*kgo.Record) ([]float64, int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out []float64
		lo, hi, inWindow, seen := int64(math.MaxInt64), int64(math.MinInt64), 0, 0
		lightLeft, lightDone := (parts-1)*light, 0
		for seen < total {
			recs := next(ctx)
			if ctx.Err() != nil {
				b.Fatalf("read %d of %d records: %v", seen, total, ctx.Err())
			}
			for _, r := range recs {
				if r.Partition != 0 {
					if lightLeft--; lightLeft == 0 {
						lightDone = seen + 1
					}
				}
				ts := r.Timestamp.UnixMicro()
				lo, hi = min(lo, ts), max(hi, ts)
				inWindow++
				seen++
				if inWindow == window || seen == total {
					out = append(out, float64(hi-lo)/1e6)
					lo, hi, inWindow = math.MaxInt64, math.MinInt64, 0
				}
			}
		}
		return out, lightDone
	}
	report := func(b *testing.B, all []float64, lightDone int) {
		slices.Sort(all)
		var sum float64
		for _, s := range all {
			sum += s
		}
		b.ReportMetric(sum/float64(len(all)), "spread-mean-s")
		b.ReportMetric(all[len(all)/2], "spread-p50-s")
		b.ReportMetric(all[len(all)-1], "spread-max-s")
		b.ReportMetric(float64(lightDone)/float64(b.N), "light-done-recs")
	}

	b.Run("plain", func(b *testing.B) {
		var all []float64
		lightDone := 0
		for range b.N {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithLogger(kgoLogger{testLogger()}))
			if err != nil {
				b.Fatal(err)
			}
			sp, done := spreads(b, func(ctx context.Context) []*kgo.Record {
				return cl.PollRecords(ctx, window).Records()
			})
			all, lightDone = append(all, sp...), lightDone+done
			cl.Close()
		}
		report(b, all, lightDone)
	})

	for _, v := range []struct {
		name  string
		quota int
		skew  time.Duration
	}{{"fair", 0, 0}, {"fair-skew", 0, time.Minute}, {"fair-q100", 100, 0}, {"fair-q100-skew", 100, time.Minute}} {
		b.Run(v.name, func(b *testing.B) {
			var all []float64
			lightDone := 0
			for i := range b.N {
				cfg := Config{
					Brokers: c.ListenAddrs(), Topic: topic, Group: fmt.Sprintf("bench-%s-%d", v.name, i),
					SessionTimeout: 3 * time.Second, RebalanceTimeout: 5 * time.Second,
					MaxPollRecords: window, MaxPartitionRecords: v.quota, MaxEventTimeSkew: v.skew,
				}
				r, err := NewReader(cfg, Hooks{}, testOpts()...)
				if err != nil {
					b.Fatal(err)
				}
				sp, done := spreads(b, func(ctx context.Context) []*kgo.Record {
					recs, err := r.Poll(ctx)
					if err != nil {
						return nil
					}
					for _, rec := range recs { // the pipeline's decode loop
						r.ObserveEventTime(rec.Partition, rec.Timestamp.UnixMicro())
					}
					r.AllowRebalance()
					return recs
				})
				all, lightDone = append(all, sp...), lightDone+done
				r.Close()
			}
			report(b, all, lightDone)
		})
	}
}

// BenchmarkObserveEventTime is the pipeline's per-record cost: 8 goroutines'
// worth of partitions, rising event times (every call stores a new max).
func BenchmarkObserveEventTime(b *testing.B) {
	r := &Reader{parts: make(map[int32]*partState)}
	r.addPartsLocked([]int32{0, 1, 2, 3, 4, 5, 6, 7}, time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var i int64
		for pb.Next() {
			i++
			r.ObserveEventTime(int32(i&7), i)
		}
	})
}
