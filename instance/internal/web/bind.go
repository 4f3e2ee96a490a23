package web

import (
	"net/url"

	"github.com/sproudstack/sproudchat/instance/internal/web/webform"
)

// The areas read forms with webform, and JSON with platform/httpbody.
var (
	form      = webform.Values
	formValue = webform.Value
	tooLarge  = webform.TooLarge
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
