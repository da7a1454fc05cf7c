// Package hudifixtures unpacks the Hudi tables written by Spark (the golden
// reference for the table format, in ../shared/fixtures/hudi beside the
// repository) into a test's temporary directory.
package hudifixtures
