package me.chanjar.weixin.mp.config.impl;

import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import me.chanjar.weixin.mp.config.WxMpConfigStorage;
import me.chanjar.weixin.mp.config.WxMpHostConfig;

/**
 * Stand-in of weixin-java-mp 4.7.0's WxMpDefaultConfigImpl
 * (weixin-java-mp/src/main/java/me/chanjar/weixin/mp/config/impl/WxMpDefaultConfigImpl.java):
 * the same protected fields and token methods.
 */
public class WxMpDefaultConfigImpl implements WxMpConfigStorage {
  protected volatile String appId;
  protected volatile String secret;
  protected volatile String accessToken;
  protected volatile long expiresTime;
  protected volatile Lock accessTokenLock = new ReentrantLock();
  private WxMpHostConfig hostConfig = null;

  @Override
  public String getAccessToken() {
    return this.accessToken;
  }

  @Override
  public Lock getAccessTokenLock() {
    return this.accessTokenLock;
  }

  @Override
  public boolean isAccessTokenExpired() {
    return System.currentTimeMillis() > this.expiresTime;
  }

  @Override
  public synchronized void updateAccessToken(String accessToken, int expiresInSeconds) {
    this.accessToken = accessToken;
    this.expiresTime = System.currentTimeMillis() + (expiresInSeconds - 200) * 1000L;
  }

  @Override
  public void expireAccessToken() {
    this.expiresTime = 0;
  }

  @Override
  public String getAppId() {
    return appId;
  }

  public void setAppId(String appId) {
    this.appId = appId;
  }

  public void setSecret(String secret) {
    this.secret = secret;
  }

  @Override
  public boolean autoRefreshToken() {
    return true;
  }

  @Override
  public WxMpHostConfig getHostConfig() {
    return this.hostConfig;
  }

  public void setHostConfig(WxMpHostConfig hostConfig) {
    this.hostConfig = hostConfig;
  }
}
