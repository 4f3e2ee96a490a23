package kb

import (
	"bytes"
	"regexp"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// md renders CommonMark with tables, strikethrough and autolinks (goldmark is
// maintained, CommonMark-compliant and has no cgo). Raw HTML in the source is kept for
// the sanitizer to judge, not trusted.
var md = goldmark.New(goldmark.WithExtensions(extension.GFM))

// policy is bluemonday's policy for user content: no script, no event handlers, no
// javascript: or data: links, no style; links get rel="nofollow noopener".
var policy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[a-zA-Z0-9_+-]+$`)).OnElements("code")
	return p
}()

// RenderMarkdown turns an article's Markdown into HTML that is safe to show.
func RenderMarkdown(src string) string {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return policy.Sanitize("<pre>" + src + "</pre>")
	}
	return policy.Sanitize(buf.String())
}

// PlainText is an article's text without markup, for snippets.
func PlainText(renderedHTML string) string {
	return bluemonday.StrictPolicy().Sanitize(renderedHTML)
}
