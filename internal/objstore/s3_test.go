package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lakestream/lakestream/internal/objstore"
	"github.com/lakestream/lakestream/internal/objstore/objstoretest"
	"github.com/lakestream/lakestream/internal/objstore/s3test"
)

func TestS3Suite(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int64
	objstoretest.Run(t, func(t *testing.T) objstore.Store {
		return srv.NewBucket(t, fmt.Sprintf("suite/%d-%s/", n.Add(1), strings.ReplaceAll(t.Name(), "/", "-")))
	})

	// The prefixes keep the subtests apart: everything is under suite/.
	b := srv.NewBucket(t, "")
	err := b.List(context.Background(), "", func(info objstore.ObjectInfo) error {
		if !strings.HasPrefix(info.Key, "suite/") {
			return fmt.Errorf("object %s outside the prefixes", info.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestS3ConcurrentMultipartPutIfAbsent races conditional multipart uploads:
// exactly one completes.
func TestS3ConcurrentMultipartPutIfAbsent(t *testing.T) {
	srv := s3test.Start(t)
	b := srv.NewBucket(t, "mp-race")
	ctx := context.Background()
	const writers = 3
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, objstore.MinS3PartSize+1000) }
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []int
	)
	for i := range writers {
		wg.Go(func() {
			err := b.PutIfAbsent(ctx, "big.commit", bytes.NewReader(content(i)))
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, i)
				mu.Unlock()
			case !errors.Is(err, objstore.ErrExists):
				t.Errorf("PutIfAbsent: %v", err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners = %v, want exactly one", winners)
	}
	got, err := objstore.ReadAll(ctx, b, "big.commit")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content(winners[0])) {
		t.Fatal("content is not the winner's")
	}
	// No multipart uploads are left behind.
	out, err := b.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind", len(out.Uploads))
	}
}

func TestS3MissingBucketIsNotNotExist(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config("")
	cfg.Bucket = "no-such-bucket"
	b, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Get(context.Background(), "k")
	if err == nil || errors.Is(err, objstore.ErrNotExist) {
		t.Fatalf("Get from a missing bucket = %v, want an error other than ErrNotExist", err)
	}
	if strings.Contains(err.Error(), s3test.SecretKey) {
		t.Fatalf("error leaks the secret: %v", err)
	}
}
