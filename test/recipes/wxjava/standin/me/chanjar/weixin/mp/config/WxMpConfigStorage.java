package me.chanjar.weixin.mp.config;

import java.util.concurrent.locks.Lock;

/** Stand-in of weixin-java-mp 4.7.0's WxMpConfigStorage: the methods the token path uses. */
public interface WxMpConfigStorage {
  String getAccessToken();

  Lock getAccessTokenLock();

  boolean isAccessTokenExpired();

  void expireAccessToken();

  void updateAccessToken(String accessToken, int expiresInSeconds);

  String getAppId();

  boolean autoRefreshToken();

  WxMpHostConfig getHostConfig();
}
