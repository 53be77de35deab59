// Package wxtokenhandle makes silenceper/wechat take its access_token from
// wxtoken, over gRPC with Go stubs generated from this repository's proto/
// (protoc-gen-go and protoc-gen-go-grpc; see the README's "Stubs for other
// languages" for the command, with example.com/you/wxtokenpb as their package).
//
// Written against github.com/silenceper/wechat/v2 v2.1.6. The extension point
// is credential.AccessTokenHandle (GetAccessToken() (string, error)), and
// credential.AccessTokenContextHandle, which adds
// GetAccessTokenContext(ctx context.Context) (string, error), installed with
// (*officialaccount.OfficialAccount).SetAccessTokenHandle (the same method
// exists on miniprogram.MiniProgram). The default handle,
// credential.NewDefaultAccessToken, calls WeChat with the appsecret; this one
// never does.
//
// silenceper/wechat has no hook for a token WeChat rejected: its API methods
// call WeChat once and return a *util.CommonError carrying the errcode.
// ReportIfStale turns a 40001/40014/42001 into wxtoken's passive refresh
// (ForceRefresh, a compare-and-refresh on the token the refused call carried)
// and says whether to retry; Call does both and retries once, never more: a
// second refusal is returned as the error.
//
// Usage:
//
//	conn, err := grpc.Dial("wxtoken:50051", grpc.WithTransportCredentials(insecure.NewCredentials()))
//	h := wxtokenhandle.New(conn, "wx1234567890abcdef")
//	oa := wechat.NewWechat().GetOfficialAccount(&offConfig.Config{AppID: "wx1234567890abcdef", Cache: cache.NewMemory()})
//	oa.SetAccessTokenHandle(h) // after GetOfficialAccount, which installs the default handle
//	var ips []string
//	err = h.Call(ctx, func() (err error) {
//		ips, err = oa.GetBasic().GetCallbackIP()
//		return err
//	})
package wxtokenhandle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/util"
	"google.golang.org/grpc"

	wxtokenpb "example.com/you/wxtokenpb"
)

// Handle serves silenceper/wechat the app's token from wxtoken.
type Handle struct {
	client wxtokenpb.TokenServiceClient
	appID  string

	mu         sync.Mutex
	token      string    // the token last handed out
	reuseUntil time.Time // ask wxtoken again after this
}

var _ credential.AccessTokenContextHandle = (*Handle)(nil)

// New returns a Handle for one app over an existing connection to wxtoken.
func New(conn grpc.ClientConnInterface, appID string) *Handle {
	return &Handle{client: wxtokenpb.NewTokenServiceClient(conn), appID: appID}
}

// GetAccessToken implements credential.AccessTokenHandle.
func (h *Handle) GetAccessToken() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.GetAccessTokenContext(ctx)
}

// GetAccessTokenContext implements credential.AccessTokenContextHandle.
func (h *Handle) GetAccessTokenContext(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// wxtoken refreshes ahead of expiry and WeChat accepts the previous token
	// for about five minutes after a rotation: reusing an answer for 60 s is safe.
	if h.token != "" && time.Now().Before(h.reuseUntil) {
		return h.token, nil
	}
	res, err := h.client.GetToken(ctx, &wxtokenpb.GetTokenRequest{AppId: h.appID})
	if err != nil {
		return "", err // a gRPC status: UNAVAILABLE, FAILED_PRECONDITION, ... (see proto/)
	}
	h.remember(res.GetToken())
	return h.token, nil
}

// Call runs call, and runs it once more after ReportIfStale reported a
// stale token; it never runs it a third time. The token it reports is the one
// the handle held when call began, which the SDK's call carried: not the one
// held after it, which another goroutine's report may already have replaced
// with a good one. (Had the handle rotated during call, the SDK may have
// carried the newer one; reporting the older is then a no-op.)
func (h *Handle) Call(ctx context.Context, call func() error) error {
	token, err := h.GetAccessTokenContext(ctx)
	if err != nil {
		return err
	}
	err = call()
	retry, rerr := h.ReportIfStale(ctx, token, err)
	if rerr != nil {
		return fmt.Errorf("reporting the refused token to wxtoken: %w (WeChat answered: %v)", rerr, err)
	}
	if !retry {
		return err
	}
	return call()
}

// ReportIfStale reports token, the one the refused call carried, to wxtoken
// when err is WeChat's 40001, 40014 or 42001, and says whether to retry the
// call. Take token from GetAccessTokenContext just before the call.
func (h *Handle) ReportIfStale(ctx context.Context, token string, err error) (retry bool, _ error) {
	var wxErr *util.CommonError
	if !errors.As(err, &wxErr) || (wxErr.ErrCode != 40001 && wxErr.ErrCode != 40014 && wxErr.ErrCode != 42001) || token == "" {
		return false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Compare-and-refresh: if wxtoken already replaced token, it answers the
	// current one (refreshed=false) and makes no upstream call.
	res, ferr := h.client.ForceRefresh(ctx, &wxtokenpb.ForceRefreshRequest{AppId: h.appID, StaleToken: token})
	if ferr != nil {
		return false, ferr
	}
	h.remember(res.GetToken())
	return true, nil
}

func (h *Handle) remember(t *wxtokenpb.Token) {
	h.token = t.GetAccessToken()
	h.reuseUntil = time.Now().Add(time.Minute)
	if limit := t.GetExpiresAt().AsTime().Add(-30 * time.Second); limit.Before(h.reuseUntil) {
		h.reuseUntil = limit
	}
}
