package me.chanjar.weixin.mp.config;

/** Stand-in of weixin-java-mp 4.7.0's WxMpHostConfig: where api.weixin.qq.com is (here, the fake WeChat). */
public class WxMpHostConfig {
  private String apiHost = "https://api.weixin.qq.com";

  public String getApiHost() {
    return apiHost;
  }

  public void setApiHost(String apiHost) {
    this.apiHost = apiHost;
  }
}
