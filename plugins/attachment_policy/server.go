package main

// The gRPC service: mairust.hook.v1.HookPlugin/Call, answering each pre_receive request by
// the policy (policy.go).

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"mairust/attachmentpolicy/hookv1"
)

// hookServer answers the platform's calls; token, when set, is the bearer the platform
// must send (the manifest's auth_secret).
type hookServer struct {
	hookv1.UnimplementedHookPluginServer
	policy Policy
	token  string
}

func (s *hookServer) Call(ctx context.Context, request *hookv1.HookRequest) (*hookv1.HookResponse, error) {
	if err := s.authorized(ctx); err != nil {
		return nil, err
	}
	if request.GetVersion() != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "wire version %d is not 1", request.GetVersion())
	}
	if request.BodyBase64 == nil {
		// Not given the message (a binding without the full-body scope): no opinion.
		return &hookv1.HookResponse{Reason: "no message body given"}, nil
	}
	raw, err := base64.StdEncoding.DecodeString(request.GetBodyBase64())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "body_base64: %v", err)
	}
	found, err := s.policy.Check(raw)
	if err != nil {
		// Not a message at all: say so and let the others decide.
		return &hookv1.HookResponse{Reason: err.Error()}, nil
	}
	if found == nil {
		return &hookv1.HookResponse{Reason: "no forbidden attachment"}, nil
	}
	log.Printf("refused mail from %s: part %q (%s) matches %s",
		request.GetEnvelope().GetMailFrom(), found.Filename, found.ContentType, found.Matched)
	return &hookv1.HookResponse{
		Verdict: proto.String("reject"),
		Reason:  fmt.Sprintf("forbidden attachment %q (%s)", found.Filename, found.Matched),
		Reply:   proto.String(fmt.Sprintf("554 5.7.1 Attachments of type %s are not accepted here", found.Matched)),
	}, nil
}

// authorized checks "authorization: Bearer <token>" when a token is configured.
func (s *hookServer) authorized(ctx context.Context) error {
	if s.token == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, value := range md.Get("authorization") {
		if subtle.ConstantTimeCompare([]byte(value), []byte("Bearer "+s.token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "a bearer token is required")
}
