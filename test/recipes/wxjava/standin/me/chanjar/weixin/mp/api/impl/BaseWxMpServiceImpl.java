package me.chanjar.weixin.mp.api.impl;

import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.locks.Lock;
import me.chanjar.weixin.common.api.WxConsts;
import me.chanjar.weixin.common.error.WxError;
import me.chanjar.weixin.common.error.WxErrorException;
import me.chanjar.weixin.mp.config.WxMpConfigStorage;

/**
 * Stand-in of weixin-java-mp 4.7.0's BaseWxMpServiceImpl
 * (weixin-java-mp/src/main/java/me/chanjar/weixin/mp/api/impl/BaseWxMpServiceImpl.java,
 * tag v4.7.0 of github.com/binarywang/WxJava): executeInternal() as there, with
 * its one automatic retry after 40001/40014/42001 (doNotAutoRefresh), the
 * expireAccessToken() call under the token lock when the storage still holds
 * the refused token, and getCallbackIP(). The -1 (system busy) retry loop of
 * execute() is left out: no test here answers -1. HTTP through java.net.http
 * instead of Apache HttpClient, as SimpleGetRequestExecutor does it: an errcode
 * other than 0 is a WxErrorException.
 */
public abstract class BaseWxMpServiceImpl {
  private WxMpConfigStorage configStorage;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  public abstract String getAccessToken(boolean forceRefresh) throws WxErrorException;

  public String getAccessToken() throws WxErrorException {
    return getAccessToken(false);
  }

  public WxMpConfigStorage getWxMpConfigStorage() {
    return this.configStorage;
  }

  public void setWxMpConfigStorage(WxMpConfigStorage configStorage) {
    this.configStorage = configStorage;
  }

  public String[] getCallbackIP() throws WxErrorException {
    String host = getWxMpConfigStorage().getHostConfig() == null ? "https://api.weixin.qq.com" : getWxMpConfigStorage().getHostConfig().getApiHost();
    String responseContent = executeInternal(host + "/cgi-bin/getcallbackip", false);
    JsonArray ipList = JsonParser.parseString(responseContent).getAsJsonObject().get("ip_list").getAsJsonArray();
    String[] ipArray = new String[ipList.size()];
    for (int i = 0; i < ipList.size(); i++) ipArray[i] = ipList.get(i).getAsString();
    return ipArray;
  }

  protected String executeInternal(String uri, boolean doNotAutoRefresh) throws WxErrorException {
    if (uri.contains("access_token=")) {
      throw new IllegalArgumentException("uri参数中不允许有access_token: " + uri);
    }
    String accessToken = getAccessToken(false);
    String uriWithAccessToken = uri + (uri.contains("?") ? "&" : "?") + "access_token=" + accessToken;
    try {
      return get(uriWithAccessToken);
    } catch (WxErrorException e) {
      WxError error = e.getError();
      if (WxConsts.ACCESS_TOKEN_ERROR_CODES.contains(error.getErrorCode())) {
        // 强制设置wxMpConfigStorage它的access token过期了，这样在下一次请求里就会刷新access token
        Lock lock = this.getWxMpConfigStorage().getAccessTokenLock();
        lock.lock();
        try {
          if (java.util.Objects.equals(this.getWxMpConfigStorage().getAccessToken(), accessToken)) {
            this.getWxMpConfigStorage().expireAccessToken();
          }
        } catch (Exception ex) {
          this.getWxMpConfigStorage().expireAccessToken();
        } finally {
          lock.unlock();
        }
        if (this.getWxMpConfigStorage().autoRefreshToken() && !doNotAutoRefresh) {
          // 下一次不再自动重试
          return this.executeInternal(uri, true);
        }
      }
      if (error.getErrorCode() != 0) {
        throw new WxErrorException(error, e);
      }
      return null;
    }
  }

  private String get(String uri) throws WxErrorException {
    try {
      HttpResponse<String> res = http.send(HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
      WxError error = WxError.fromJson(res.body());
      if (error.getErrorCode() != 0) throw new WxErrorException(error);
      return res.body();
    } catch (IOException e) {
      throw new WxErrorException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new WxErrorException(e);
    }
  }
}
