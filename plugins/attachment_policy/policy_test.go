package main

import (
	"strings"
	"testing"
)

func message(parts ...string) []byte {
	var b strings.Builder
	b.WriteString("From: s@remote.example\r\nTo: a@example.test\r\nSubject: files\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n")
	b.WriteString("preamble\r\n")
	for _, part := range parts {
		b.WriteString("--XX\r\n" + part + "\r\n")
	}
	b.WriteString("--XX--\r\n")
	return []byte(b.String())
}

const text = "Content-Type: text/plain; charset=utf-8\r\n\r\nhello"

func attachment(disposition, contentType string) string {
	return "Content-Type: " + contentType + "\r\nContent-Disposition: " + disposition +
		"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA"
}

func TestCheck(t *testing.T) {
	policy := NewPolicy(DefaultExtensions, DefaultTypes)
	cases := []struct {
		name    string
		raw     []byte
		matched string // "" when the message passes
	}{
		{"plain text", []byte("Subject: hi\r\n\r\nhello\r\n"), ""},
		{"clean attachments", message(text, attachment(`attachment; filename="report.pdf"`, "application/pdf")), ""},
		{"an .exe", message(text, attachment(`attachment; filename="setup.exe"`, "application/octet-stream")), ".exe"},
		{"upper case", message(attachment(`attachment; filename="SETUP.EXE"`, "application/octet-stream")), ".exe"},
		{"a double extension", message(attachment(`attachment; filename="invoice.pdf.js"`, "application/pdf")), ".js"},
		{"trailing dots and spaces", message(attachment(`attachment; filename="x.scr. ."`, "application/pdf")), ".scr"},
		{"a path", message(attachment(`attachment; filename="C:\\temp\\x.bat"`, "application/pdf")), ".bat"},
		{"Content-Type name only", message("Content-Type: application/octet-stream; name=\"run.vbs\"\r\n\r\nx"), ".vbs"},
		{"RFC 2231 encoded", message(attachment(`attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.exe`, "application/pdf")), ".exe"},
		{"RFC 2047 encoded", message(attachment(`attachment; filename="=?UTF-8?B?cGxheS5qcw==?="`, "application/pdf")), ".js"},
		{"RFC 2231 continuations", message(attachment("attachment; filename*0=\"long-name.\"; filename*1=\"ps1\"", "application/pdf")), ".ps1"},
		{"a forbidden type without a name", message(attachment("attachment", "application/x-msdownload")), "application/x-msdownload"},
		{"a forbidden type in capitals", message(attachment("inline", "Application/X-MSDownload")), "application/x-msdownload"},
		{
			"nested multipart",
			message("Content-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\n" + text + "\r\n--YY\r\n" +
				attachment(`attachment; filename="deep.exe"`, "application/octet-stream") + "\r\n--YY--"),
			".exe",
		},
		{
			"an attached message",
			message("Content-Type: message/rfc822\r\n\r\n" + string(message(attachment(`attachment; filename="inner.hta"`, "application/octet-stream")))),
			".hta",
		},
		{
			"a single part message that is an attachment",
			[]byte("Subject: x\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.cmd\r\n\r\nx"),
			".cmd",
		},
		{
			"a multipart without its closing boundary",
			[]byte("Subject: x\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n" + text + "\r\n--XX\r\n" +
				attachment(`attachment; filename="cut.exe"`, "application/octet-stream")),
			".exe",
		},
		{"an unreadable Content-Type is text", []byte("Subject: x\r\nContent-Type: ;;;\r\n\r\nx"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found, err := policy.Check(c.raw)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			got := ""
			if found != nil {
				got = found.Matched
			}
			if got != c.matched {
				t.Fatalf("matched %q, want %q (finding %+v)", got, c.matched, found)
			}
		})
	}
}

func TestCheckRefusesWhatIsNoMessage(t *testing.T) {
	if _, err := NewPolicy(".exe", "").Check([]byte("no header block at all")); err == nil {
		t.Fatal("want an error for a message without headers")
	}
}

func TestNestingIsBounded(t *testing.T) {
	raw := attachment(`attachment; filename="bottom.exe"`, "application/octet-stream")
	for i := 0; i < maxDepth+2; i++ {
		raw = "Content-Type: message/rfc822\r\n\r\nSubject: level\r\n" + raw
	}
	found, err := NewPolicy(".exe", "").Check([]byte("Subject: top\r\n" + raw))
	if err != nil || found != nil {
		t.Fatalf("a part deeper than %d is not looked at: got %+v, %v", maxDepth, found, err)
	}
}

func TestNewPolicyNormalises(t *testing.T) {
	policy := NewPolicy(" EXE, .js,,", " Text/JavaScript ")
	if !policy.Extensions[".exe"] || !policy.Extensions[".js"] || len(policy.Extensions) != 2 {
		t.Fatalf("extensions %v", policy.Extensions)
	}
	if !policy.Types["text/javascript"] || len(policy.Types) != 1 {
		t.Fatalf("types %v", policy.Types)
	}
}
