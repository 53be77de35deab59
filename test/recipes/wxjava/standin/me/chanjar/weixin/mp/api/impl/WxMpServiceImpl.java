package me.chanjar.weixin.mp.api.impl;

import me.chanjar.weixin.common.error.WxErrorException;

/**
 * Stand-in of weixin-java-mp 4.7.0's WxMpServiceImpl: BaseWxMpServiceImpl.getAccessToken(boolean)
 * returns the storage's token while !forceRefresh and !isAccessTokenExpired(); otherwise the
 * real one calls WeChat's token API with the appsecret, which the stand-in refuses to do.
 */
public class WxMpServiceImpl extends BaseWxMpServiceImpl {
  @Override
  public String getAccessToken(boolean forceRefresh) throws WxErrorException {
    if (!forceRefresh && !this.getWxMpConfigStorage().isAccessTokenExpired()) {
      return this.getWxMpConfigStorage().getAccessToken();
    }
    throw new IllegalStateException("the stand-in WxMpServiceImpl calls no token API (a recipe's storage never expires)");
  }
}
