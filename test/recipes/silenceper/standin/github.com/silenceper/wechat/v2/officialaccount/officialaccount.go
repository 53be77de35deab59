// Package officialaccount is a stand-in of silenceper/wechat v2.1.6's
// officialaccount/officialaccount.go: NewOfficialAccount, SetAccessTokenHandle
// and GetBasic as there (the default handle, which calls WeChat with the
// appsecret, is nil here: a recipe replaces it).
package officialaccount

import (
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/officialaccount/basic"
	"github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/context"
)

// OfficialAccount 微信公众号相关API
type OfficialAccount struct {
	ctx   *context.Context
	basic *basic.Basic
}

// NewOfficialAccount 实例化公众号API
func NewOfficialAccount(cfg *config.Config) *OfficialAccount {
	return &OfficialAccount{ctx: &context.Context{Config: cfg}}
}

// SetAccessTokenHandle 自定义access_token获取方式
func (officialAccount *OfficialAccount) SetAccessTokenHandle(accessTokenHandle credential.AccessTokenHandle) {
	officialAccount.ctx.AccessTokenHandle = accessTokenHandle
}

// GetBasic qr/url 相关配置
func (officialAccount *OfficialAccount) GetBasic() *basic.Basic {
	if officialAccount.basic == nil {
		officialAccount.basic = basic.NewBasic(officialAccount.ctx)
	}
	return officialAccount.basic
}
