package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Target stores objects in a bucket of an S3-compatible service, under a prefix.
// Every call is retried with exponential backoff while the service answers with a
// transient failure (refused or reset connection, 5xx, SlowDown), so a target that is
// briefly unavailable costs a backup time, not its run.
//
// It uses minio-go: one small module whose client speaks path-style to any
// S3-compatible server, against the dozen modules of the AWS SDK.
type S3Target struct {
	client   *minio.Client
	bucket   string
	prefix   string
	attempts int           // calls per operation, first included
	backoff  time.Duration // before the second attempt; doubles, capped at maxBackoff
}

const maxBackoff = 5 * time.Second

func openS3(ctx context.Context, u *url.URL, getenv func(string) string) (*S3Target, error) {
	return newS3Target(u, getenv, nil)
}

func newS3Target(u *url.URL, getenv func(string) string, transport http.RoundTripper) (*S3Target, error) {
	where := redact(u)
	bucket := u.Host
	if bucket == "" {
		return nil, fmt.Errorf("backup target %q: no bucket (s3://bucket/prefix?endpoint=…)", where)
	}
	q := u.Query()
	ep, err := url.Parse(q.Get("endpoint"))
	if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
		return nil, fmt.Errorf("backup target %q: endpoint must be http(s)://host[:port]", where)
	}
	region := q.Get("region")
	if region == "" {
		region = "us-east-1"
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, fmt.Errorf("backup target %q: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", where)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if !validKey(prefix) {
			return nil, fmt.Errorf("backup target %q: invalid prefix", where)
		}
		prefix += "/"
	}
	c, err := minio.New(ep.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(key, secret, getenv("AWS_SESSION_TOKEN")),
		Secure:       ep.Scheme == "https",
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    transport,
		MaxRetries:   1, // we retry ourselves, with a backoff we can test
	})
	if err != nil {
		return nil, fmt.Errorf("backup target %q: %w", where, err)
	}
	return &S3Target{client: c, bucket: bucket, prefix: prefix, attempts: 6, backoff: 200 * time.Millisecond}, nil
}

// retry runs op until it succeeds, fails for good, or attempts run out.
func (s *S3Target) retry(ctx context.Context, op func() error) error {
	wait := s.backoff
	var err error
	for i := 0; i < s.attempts; i++ {
		if i > 0 {
			// Full jitter: writers that failed together do not retry together.
			t := time.NewTimer(wait/2 + rand.N(wait/2+1))
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
			wait = min(2*wait, maxBackoff)
		}
		if err = op(); err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// transient tells whether a failed S3 call may succeed when repeated.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout":
			return true
		}
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func notFound(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && resp.Code != "NoSuchBucket" && (resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound)
}

func (s *S3Target) object(key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return s.prefix + key, nil
}

// Put implements Target: a single PUT, which S3 applies whole or not at all.
func (s *S3Target) Put(ctx context.Context, key string, body []byte) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	err = s.retry(ctx, func() error {
		_, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true, DisableMultipart: true})
		return err
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get implements Target.
func (s *S3Target) Get(ctx context.Context, key string) ([]byte, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	var b []byte
	err = s.retry(ctx, func() error {
		o, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer o.Close()
		b, err = io.ReadAll(o)
		return err
	})
	if notFound(err) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// Exists implements Target.
func (s *S3Target) Exists(ctx context.Context, key string) (bool, error) {
	name, err := s.object(key)
	if err != nil {
		return false, err
	}
	err = s.retry(ctx, func() error {
		_, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
		return err
	})
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", key, err)
	}
	return true, nil
}

// Delete implements Target.
func (s *S3Target) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	err = s.retry(ctx, func() error {
		err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
		if notFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List implements Target: every object whose key starts with prefix, sorted by key.
func (s *S3Target) List(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	err := s.retry(ctx, func() error {
		out = out[:0]
		lctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for o := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
			if o.Err != nil {
				return o.Err
			}
			if strings.HasSuffix(o.Key, "/") {
				continue // a directory marker some servers show
			}
			out = append(out, Object{Key: strings.TrimPrefix(o.Key, s.prefix), Size: o.Size, Modified: o.LastModified.UTC()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return out, nil
}
