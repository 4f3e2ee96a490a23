package cli

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// checkTargetURL checks the form of a backup target, so a typo is a usage error before
// anything is opened: file:///absolute/dir or s3://bucket[/prefix][?endpoint=http(s)://host:port&region=…].
func checkTargetURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: want file:///dir or s3://bucket/prefix", raw)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return fmt.Errorf("%q: a file target is file:///absolute/dir (three slashes), not a host", raw)
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return fmt.Errorf("%q: a file target needs an absolute directory (file:///var/backups/sproudchat)", raw)
		}
		if u.RawQuery != "" {
			return fmt.Errorf("%q: a file target takes no query", raw)
		}
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("%q: an S3 target names its bucket: s3://bucket/prefix", raw)
		}
		if u.User != nil {
			return errors.New("an S3 target carries no credentials in its URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
		if ep := u.Query().Get("endpoint"); ep != "" {
			e, err := url.Parse(ep)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return fmt.Errorf("endpoint %q: must be http(s)://host[:port]", ep)
			}
		}
	default:
		shown := raw
		if u.User != nil { // never echo a password
			u.User = nil
			shown = u.String()
		}
		return fmt.Errorf("%q: want file:///dir or s3://bucket/prefix", shown)
	}
	if strings.ContainsAny(u.Path, "\x00") {
		return fmt.Errorf("%q: the path holds a NUL", raw)
	}
	return nil
}
