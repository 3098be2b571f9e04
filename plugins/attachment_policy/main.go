// Command attachment-policy is a MaiRust hook plugin in Go over gRPC: at pre_receive it
// refuses mail with a MIME part whose file name has a forbidden extension (.exe, .js,
// .scr, ...) or whose content type is forbidden, with "554 5.7.1". It serves
// mairust.hook.v1.HookPlugin (mairust/hooks/proto/mairust_hook_v1.proto) on a loopback
// address only: the call carries the whole message in plain text (no TLS), which must not
// cross a network.
//
//	attachment-policy --listen 127.0.0.1:50051 --forbid-ext .exe,.js --forbid-type application/x-msdownload
//
// Each flag may also come from the environment (ATTACHMENT_POLICY_LISTEN, _EXTENSIONS,
// _TYPES); the bearer token the platform must send (the manifest's auth_secret) comes from
// ATTACHMENT_POLICY_TOKEN only, never the command line (which every user can read).
// It prints "listening on HOST:PORT" once it serves (port 0 picks a free port).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"mairust/attachmentpolicy/hookv1"
)

// maxRequestBytes bounds one request: the message in base64 (the platform's own message
// size limit stays well below it).
const maxRequestBytes = 96 << 20

func main() {
	listen := flag.String("listen", env("ATTACHMENT_POLICY_LISTEN", "127.0.0.1:50051"), "loopback host:port to serve on")
	extensions := flag.String("forbid-ext", env("ATTACHMENT_POLICY_EXTENSIONS", DefaultExtensions), "comma-separated file name extensions refused")
	types := flag.String("forbid-type", env("ATTACHMENT_POLICY_TYPES", DefaultTypes), "comma-separated content types refused")
	flag.Parse()
	log.SetPrefix("attachment-policy: ")
	log.SetFlags(0)

	listener, err := listenLoopback(*listen)
	if err != nil {
		log.Fatal(err)
	}
	server := grpc.NewServer(grpc.MaxRecvMsgSize(maxRequestBytes))
	hookv1.RegisterHookPluginServer(server, &hookServer{
		policy: NewPolicy(*extensions, *types),
		token:  os.Getenv("ATTACHMENT_POLICY_TOKEN"),
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.GracefulStop()
	}()
	fmt.Printf("listening on %s\n", listener.Addr())
	if err := server.Serve(listener); err != nil {
		log.Fatal(err)
	}
}

// listenLoopback listens on address if its host is a loopback IP, and refuses otherwise.
func listenLoopback(address string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", address, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--listen %q: only a loopback address (127.0.0.1, ::1) is served", address)
	}
	return net.Listen("tcp", address)
}

func env(name, fallback string) string {
	if value, ok := os.LookupEnv(name); ok {
		return value
	}
	return fallback
}
