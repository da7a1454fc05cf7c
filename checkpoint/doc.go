// Package checkpoint runs ingestion as a sequence of checkpoints. A
// Coordinator polls records, decodes them straight into rows, routes each
// row by bucket to the worker that owns it and, every interval and at
// shutdown, stops intake at a barrier, has every worker close its files,
// and makes exactly one table commit carrying the checkpoint ID, the files
// and the next offset of every partition the process owns. A restart
// resumes from that commit.
package checkpoint
