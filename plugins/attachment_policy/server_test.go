package main

import (
	"context"
	"encoding/base64"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"mairust/attachmentpolicy/hookv1"
)

// serve starts the plugin's gRPC server on a free loopback port, as main does.
func serve(t *testing.T, token string) hookv1.HookPluginClient {
	t.Helper()
	listener, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	hookv1.RegisterHookPluginServer(server, &hookServer{policy: NewPolicy(DefaultExtensions, DefaultTypes), token: token})
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(server.Stop)
	conn, err := grpc.NewClient(listener.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return hookv1.NewHookPluginClient(conn)
}

func request(raw []byte) *hookv1.HookRequest {
	body := base64.StdEncoding.EncodeToString(raw)
	return &hookv1.HookRequest{Version: 1, Point: "pre_receive", Scopes: []string{"full-body"}, BodyBase64: &body}
}

func call(t *testing.T, client hookv1.HookPluginClient, token string, req *hookv1.HookRequest) (*hookv1.HookResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return client.Call(ctx, req)
}

func TestAForbiddenAttachmentIsRejectedWithAnEnhancedCode(t *testing.T) {
	client := serve(t, "")
	raw := message(text, attachment(`attachment; filename="setup.exe"`, "application/octet-stream"))
	answer, err := call(t, client, "", request(raw))
	if err != nil {
		t.Fatal(err)
	}
	if answer.GetVerdict() != "reject" || answer.GetReply() != "554 5.7.1 Attachments of type .exe are not accepted here" {
		t.Fatalf("answer %v", answer)
	}
}

func TestCleanMailHasNoOpinion(t *testing.T) {
	client := serve(t, "")
	answer, err := call(t, client, "", request(message(text)))
	if err != nil {
		t.Fatal(err)
	}
	if answer.Verdict != nil || answer.Reply != nil {
		t.Fatalf("a clean message gets no verdict (continue): %v", answer)
	}
	noBody := &hookv1.HookRequest{Version: 1, Point: "pre_receive", Scopes: []string{"envelope"}}
	if answer, err = call(t, client, "", noBody); err != nil || answer.Verdict != nil {
		t.Fatalf("without the body: %v, %v", answer, err)
	}
}

func TestTheBearerTokenIsRequiredWhenConfigured(t *testing.T) {
	client := serve(t, "s3cret")
	raw := request(message(text))
	for _, token := range []string{"", "wrong"} {
		_, err := call(t, client, token, raw)
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("token %q: want Unauthenticated, got %v", token, err)
		}
	}
	if _, err := call(t, client, "s3cret", raw); err != nil {
		t.Fatalf("the right token: %v", err)
	}
}

func TestABadRequestIsInvalidArgument(t *testing.T) {
	client := serve(t, "")
	wrongVersion := request(message(text))
	wrongVersion.Version = 2
	notBase64 := request(nil)
	junk := "%%%"
	notBase64.BodyBase64 = &junk
	for _, req := range []*hookv1.HookRequest{wrongVersion, notBase64} {
		if _, err := call(t, client, "", req); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("want InvalidArgument, got %v", err)
		}
	}
}

func TestOnlyLoopbackIsServed(t *testing.T) {
	for _, address := range []string{"0.0.0.0:0", "192.0.2.1:0", "localhost:0", "nonsense"} {
		if listener, err := listenLoopback(address); err == nil {
			_ = listener.Close()
			t.Fatalf("%s: want a refusal", address)
		}
	}
	listener, err := listenLoopback("[::1]:0")
	if err == nil {
		_ = listener.Close()
	} else if _, ok := err.(*net.OpError); !ok {
		t.Fatalf("[::1] is loopback: %v", err) // an OpError: no IPv6 on this machine
	}
}
