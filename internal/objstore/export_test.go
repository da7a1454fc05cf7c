package objstore

// SetWriteTempAttempts sets how many times a Filesystem Put tries to create
// its temporary file, for the tests; it returns the function restoring the
// previous value.
func SetWriteTempAttempts(n int) (restore func()) {
	old := writeTempAttempts
	writeTempAttempts = n
	return func() { writeTempAttempts = old }
}
