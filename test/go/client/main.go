// Command client is a Go business service talking to a live wxtoken server.
//
// It proves the contract in proto/ works from Go with nothing but Debian's
// packages: the stubs are generated from proto/ at test time (nothing
// generated is checked in) and the program is built in GOPATH mode against
// grpc-go 1.33 and google.golang.org/protobuf 1.28 from /usr/share/gocode.
// test/interop/go-client.test.ts generates, builds and runs it, then checks what it
// printed against the server.
//
// Environment:
//
//	WXTOKEN_ADDR    host:port of the server, e.g. 127.0.0.1:50051
//	WXTOKEN_APP_ID  an app the server holds, with its jsapi ticket configured
//
// Output: one JSON object per line, {"step": ..., ...}, ending with
// {"step":"done"}. Any unexpected answer prints {"step":"fail",...} on stderr
// and exits 1. Tokens themselves are never printed, only fingerprints.
package main

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	// Generated at test time: protoc --go_out --go-grpc_out with
	// M wxtoken/v1/token_service.proto=wxtoken.test/gen/wxtokenv1.
	pb "wxtoken.test/gen/wxtokenv1"
)

// Every call gets a deadline; the whole run is a few hundred milliseconds.
const callTimeout = 10 * time.Second

func emit(step string, fields map[string]interface{}) {
	fields["step"] = step
	line, _ := json.Marshal(fields)
	fmt.Println(string(line))
}

func fail(step string, format string, args ...interface{}) {
	line, _ := json.Marshal(map[string]interface{}{"step": "fail", "at": step, "error": fmt.Sprintf(format, args...)})
	fmt.Fprintln(os.Stderr, string(line))
	os.Exit(1)
}

// fingerprint is Token.fingerprint computed here: the first 8 hex digits of
// the SHA-256 of the value, to show the token string arrived intact.
func fingerprint(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])[:8]
}

func tokenFields(t *pb.Token) map[string]interface{} {
	return map[string]interface{}{
		"app_id":            t.GetAppId(),
		"agent":             t.GetAgent(),
		"kind":              t.GetKind().String(),
		"version":           t.GetVersion(),
		"fingerprint":       t.GetFingerprint(),
		"local_fingerprint": fingerprint(t.GetAccessToken()),
		"obtained_at":       t.GetObtainedAt().AsTime().Unix(),
		"refresh_at":        t.GetRefreshAt().AsTime().Unix(),
		"expires_at":        t.GetExpiresAt().AsTime().Unix(),
	}
}

// statusFields reads a gRPC status error: its code, and the stable reason
// from the google.rpc.ErrorInfo the server puts in grpc-status-details-bin.
func statusFields(err error) map[string]interface{} {
	st, _ := status.FromError(err)
	fields := map[string]interface{}{"code": st.Code().String(), "message": st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			fields["reason"] = info.GetReason()
			fields["domain"] = info.GetDomain()
		}
	}
	return fields
}

func main() {
	addr, appID := os.Getenv("WXTOKEN_ADDR"), os.Getenv("WXTOKEN_APP_ID")
	if addr == "" || appID == "" {
		fail("env", "set WXTOKEN_ADDR and WXTOKEN_APP_ID (test/interop/go-client.test.ts does)")
	}

	dialCtx, cancelDial := context.WithTimeout(context.Background(), callTimeout)
	defer cancelDial()
	// grpc-go 1.33 (Debian) has no credentials/insecure package: WithInsecure.
	conn, err := grpc.DialContext(dialCtx, addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail("dial", "%v", err)
	}
	defer conn.Close()
	client := pb.NewTokenServiceClient(conn)
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), callTimeout)
	}

	// 1. The access_token (kind unset means the access_token).
	ctx, cancel := call()
	got, err := client.GetToken(ctx, &pb.GetTokenRequest{AppId: appID})
	cancel()
	if err != nil {
		fail("get_token", "%v", err)
	}
	emit("get_token", tokenFields(got.GetToken()))

	// 2. The JS-SDK jsapi_ticket, then a wx.config signature checked here
	// against the ticket: sha1("jsapi_ticket=T&noncestr=N&timestamp=TS&url=U").
	ctx, cancel = call()
	ticket, err := client.GetToken(ctx, &pb.GetTokenRequest{AppId: appID, Kind: pb.CredentialKind_CREDENTIAL_KIND_JSAPI_TICKET})
	cancel()
	if err != nil {
		fail("get_ticket", "%v", err)
	}
	emit("get_ticket", tokenFields(ticket.GetToken()))

	page := "https://h5.example.com/order?id=42"
	ctx, cancel = call()
	signed, err := client.SignJsSdk(ctx, &pb.SignJsSdkRequest{AppId: appID, Url: page + "#/pay"})
	cancel()
	if err != nil {
		fail("sign", "%v", err)
	}
	plain := fmt.Sprintf("jsapi_ticket=%s&noncestr=%s&timestamp=%d&url=%s", ticket.GetToken().GetAccessToken(), signed.GetNonceStr(), signed.GetTimestamp(), page)
	sum := sha1.Sum([]byte(plain))
	emit("sign", map[string]interface{}{
		"url":                signed.GetUrl(),
		"ticket_fingerprint": signed.GetTicketFingerprint(),
		"signature_matches":  hex.EncodeToString(sum[:]) == signed.GetSignature(),
	})

	// 3. Watch the access_token: the current one at once, then the rotation
	// this program causes with ForceRefresh (what a service does after WeChat
	// answered 40001/40014/42001 for the token it holds).
	watchCtx, cancelWatch := context.WithTimeout(context.Background(), callTimeout)
	defer cancelWatch()
	stream, err := client.WatchToken(watchCtx, &pb.WatchTokenRequest{AppId: appID})
	if err != nil {
		fail("watch", "%v", err)
	}
	first, err := stream.Recv()
	if err != nil {
		fail("watch_first", "%v", err)
	}
	emit("watch_first", tokenFields(first.GetToken()))

	stale := first.GetToken().GetAccessToken()
	ctx, cancel = call()
	refreshed, err := client.ForceRefresh(ctx, &pb.ForceRefreshRequest{AppId: appID, StaleToken: stale})
	cancel()
	if err != nil {
		fail("force_refresh", "%v", err)
	}
	fields := tokenFields(refreshed.GetToken())
	fields["refreshed"] = refreshed.GetRefreshed()
	emit("force_refresh", fields)

	second, err := stream.Recv()
	if err != nil {
		fail("watch_rotation", "%v", err)
	}
	emit("watch_rotation", tokenFields(second.GetToken()))
	cancelWatch()

	// The same stale token again: already replaced, so no upstream call and
	// refreshed=false, with the current token.
	ctx, cancel = call()
	again, err := client.ForceRefresh(ctx, &pb.ForceRefreshRequest{AppId: appID, StaleToken: stale})
	cancel()
	if err != nil {
		fail("force_refresh_again", "%v", err)
	}
	fields = tokenFields(again.GetToken())
	fields["refreshed"] = again.GetRefreshed()
	emit("force_refresh_again", fields)

	// 4. Errors are gRPC status codes: an app this server does not hold is
	// NOT_FOUND, a malformed app_id INVALID_ARGUMENT.
	for _, c := range []struct{ step, appID string }{
		{"unknown_app", "wxnotconfigured00"},
		{"malformed_app", "not an app id!"},
	} {
		ctx, cancel = call()
		_, err = client.GetToken(ctx, &pb.GetTokenRequest{AppId: c.appID})
		cancel()
		if err == nil {
			fail(c.step, "GetToken(%q) succeeded, expected an error", c.appID)
		}
		if _, ok := status.FromError(err); !ok {
			fail(c.step, "not a gRPC status error: %v", err)
		}
		if status.Code(err) == codes.Unknown {
			fail(c.step, "status code UNKNOWN: %v", err)
		}
		emit(c.step, statusFields(err))
	}

	emit("done", map[string]interface{}{})
}
