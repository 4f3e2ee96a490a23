package vault

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
)

// OpenTarget opens the target a URL names: file:///abs/dir, or
// s3://bucket/prefix?endpoint=http://host:port&region=us-east-1 with the credentials in
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Returns an error naming what is wrong
// when the URL is not one of these; it never echoes a credential.
func OpenTarget(ctx context.Context, rawURL string) (Target, error) {
	return OpenTargetEnv(ctx, rawURL, os.Getenv)
}

// OpenTargetEnv is OpenTarget with the environment read through getenv.
func OpenTargetEnv(ctx context.Context, rawURL string, getenv func(string) string) (Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("backup target: not a URL")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("backup target %q: a file URL names a local directory (file:///abs/dir)", redact(u))
		}
		if !path.IsAbs(u.Path) || u.RawQuery != "" {
			return nil, fmt.Errorf("backup target %q: want file:///absolute/dir", redact(u))
		}
		return NewFileTarget(u.Path)
	case "s3":
		return openS3(ctx, u, getenv)
	default:
		return nil, fmt.Errorf("backup target %q: want file:///dir or s3://bucket/prefix?endpoint=…", redact(u))
	}
}

// redact drops what a URL should not carry into a message: user info.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// validKey tells whether key is a relative slash path without empty, "." or ".."
// segments: the only names either target stores under.
func validKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return false
	}
	for _, s := range strings.Split(key, "/") {
		if s == "" || s == "." || s == ".." || strings.HasPrefix(s, tmpPrefix) {
			return false
		}
	}
	return true
}
