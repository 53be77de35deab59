// Package config is a stand-in of silenceper/wechat v2.1.6's officialaccount/config (the fields used here).
package config

// Config .config for 微信公众号
type Config struct {
	AppID     string `json:"app_id"`
	AppSecret string `json:"app_secret"`
}
