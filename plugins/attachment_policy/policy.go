package main

// The attachment policy itself: which MIME parts of a message are forbidden, found with the
// standard library's MIME parsers (net/mail, mime, mime/multipart). Nothing here knows
// gRPC; server.go calls Check.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
)

// DefaultExtensions are file name extensions of programs and scripts that Windows runs on
// a double click: the classic carriers of mail-borne malware.
const DefaultExtensions = ".exe,.scr,.js,.jse,.vbs,.vbe,.bat,.cmd,.com,.pif,.msi,.jar,.ps1,.hta,.wsf,.lnk,.cpl"

// DefaultTypes are content types declaring such programs and scripts.
const DefaultTypes = "application/x-msdownload,application/x-msdos-program,application/x-dosexec,application/x-executable,application/x-ms-shortcut,application/hta,application/javascript,application/x-javascript,text/javascript"

// maxDepth bounds nested multiparts and attached messages (a message nested a thousand
// deep is an attack on the parser, not mail).
const maxDepth = 16

// Policy is what is refused: file name extensions (".exe", lower case) and content types
// ("application/x-msdownload", lower case).
type Policy struct {
	Extensions map[string]bool
	Types      map[string]bool
}

// Finding is the first forbidden part of a message: its file name (possibly empty), its
// content type, and what matched (one of the policy's own entries, so it is safe to quote
// in an SMTP reply: it never carries the sender's bytes).
type Finding struct {
	Filename    string
	ContentType string
	Matched     string
}

// NewPolicy reads comma-separated lists; an extension may be given with or without its dot.
func NewPolicy(extensions, types string) Policy {
	policy := Policy{Extensions: map[string]bool{}, Types: map[string]bool{}}
	for _, ext := range strings.Split(extensions, ",") {
		ext = strings.ToLower(strings.TrimSpace(ext))
		if ext == "" {
			continue
		}
		if !strings.HasPrefix(ext, ".") {
			ext = "." + ext
		}
		policy.Extensions[ext] = true
	}
	for _, media := range strings.Split(types, ",") {
		media = strings.ToLower(strings.TrimSpace(media))
		if media != "" {
			policy.Types[media] = true
		}
	}
	return policy
}

// Check finds the first forbidden part of the raw message (RFC 5322, MIME), or nil. A
// message that is not even a header block is an error; a multipart cut short (no closing
// boundary, as some senders write it) is judged by the parts before the cut.
func (p Policy) Check(raw []byte) (*Finding, error) {
	message, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not a message: %w", err)
	}
	return p.part(textproto.MIMEHeader(message.Header), message.Body, 0)
}

func (p Policy) part(header textproto.MIMEHeader, body io.Reader, depth int) (*Finding, error) {
	media, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if errors.Is(err, mime.ErrInvalidMediaParameter) {
		params = map[string]string{} // the type still counts; its parameters cannot
	} else if err != nil {
		// RFC 2045: no (or an unreadable) Content-Type is text/plain.
		media, params = "text/plain", map[string]string{}
	}
	name := filename(header, params)
	if found := p.judge(name, media); found != nil {
		return found, nil
	}
	if depth >= maxDepth {
		return nil, nil
	}
	switch {
	case strings.HasPrefix(media, "multipart/") && params["boundary"] != "":
		reader := multipart.NewReader(body, params["boundary"])
		for {
			// Raw: the parts' transfer encoding does not matter to a header check.
			next, err := reader.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			if err != nil {
				return nil, nil // cut short or malformed: the parts read so far were clean
			}
			found, err := p.part(next.Header, next, depth+1)
			if found != nil || err != nil {
				return found, err
			}
		}
	case media == "message/rfc822":
		inner, err := mail.ReadMessage(body)
		if err != nil {
			return nil, nil // an attached message that is none hides no parts
		}
		return p.part(textproto.MIMEHeader(inner.Header), inner.Body, depth+1)
	}
	return nil, nil
}

// judge says whether a part with this file name and content type is forbidden.
func (p Policy) judge(name, media string) *Finding {
	if ext := extension(name); ext != "" && p.Extensions[ext] {
		return &Finding{Filename: name, ContentType: media, Matched: ext}
	}
	if p.Types[media] {
		return &Finding{Filename: name, ContentType: media, Matched: media}
	}
	return nil
}

// filename is the part's file name: Content-Disposition's filename, else Content-Type's
// name (RFC 2231 continuations and charsets are decoded by mime.ParseMediaType, RFC 2047
// encoded words here).
func filename(header textproto.MIMEHeader, params map[string]string) string {
	name := ""
	if _, disposition, err := mime.ParseMediaType(header.Get("Content-Disposition")); err == nil {
		name = disposition["filename"]
	}
	if name == "" {
		name = params["name"]
	}
	if strings.Contains(name, "=?") {
		if decoded, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
			name = decoded
		}
	}
	return name
}

// extension is the lower-case extension of a file name's last path element, with the
// trailing dots and spaces Windows ignores removed ("invoice.pdf.exe. " is ".exe").
func extension(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimRight(name, ". ")
	i := strings.LastIndex(name, ".")
	if i < 0 {
		return ""
	}
	return strings.ToLower(name[i:])
}
