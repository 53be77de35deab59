// Package credential is a stand-in of github.com/silenceper/wechat/v2/credential
// at v2.1.6 (credential/access_token.go): the handle interfaces. The default
// handle, which calls WeChat with the appsecret, is left out.
package credential

import "context"

// AccessTokenHandle AccessToken 接口
type AccessTokenHandle interface {
	GetAccessToken() (accessToken string, err error)
}

// AccessTokenContextHandle AccessToken 接口
type AccessTokenContextHandle interface {
	AccessTokenHandle
	GetAccessTokenContext(ctx context.Context) (accessToken string, err error)
}
