package bucketing

// hash64 is FNV-1a with a murmur3 finalizer: stable across processes and
// versions, allocation-free, and well mixed in its low bits. Bucket routing
// depends on its exact values (TestHashIsStable pins them).
func hash64(s string) uint64 { return fnvMix(s) }

// RecordHash hashes a record's bytes (its Kafka key, or any stable identity
// of the record) for Router.Route: stable across processes and versions,
// allocation-free, uniform in its low bits. Records with the same bytes land
// in the same file group of a hot bucket.
func RecordHash(b []byte) uint64 { return fnvMix(b) }

// OffsetHash hashes a record's Kafka coordinates for Router.Route. It is the
// cheapest uniform choice when records need not be grouped by key: a
// partition's consecutive offsets spread evenly over a hot bucket's workers,
// and each worker still receives a partition's records in offset order.
func OffsetHash(partition int32, offset int64) uint64 {
	return mix64(uint64(offset) ^ uint64(uint32(partition))*0x9e3779b97f4a7c15)
}

func fnvMix[T string | []byte](s T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the murmur3 64-bit finalizer.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
