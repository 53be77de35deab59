/*
 * WxJava takes its access_token from wxtoken, over wxtoken's HTTP/JSON API
 * (java.net.http, JDK 11+, and Gson, which WxJava already depends on; the gRPC
 * stubs from proto/ would do as well: see the README's "Stubs for other languages").
 *
 * Written against binarywang/WxJava 4.7.0 (weixin-java-mp). The extension point
 * is the config storage, me.chanjar.weixin.mp.config.WxMpConfigStorage, here by
 * extending me.chanjar.weixin.mp.config.impl.WxMpDefaultConfigImpl:
 *   getAccessToken()        the token every call puts in access_token=
 *   isAccessTokenExpired()  always false: while it is false BaseWxMpServiceImpl
 *                           never calls WeChat's token API (no secret is configured)
 *   expireAccessToken()     the passive-refresh hook: BaseWxMpServiceImpl.executeInternal
 *                           calls it, under getAccessTokenLock(), when WeChat answers
 *                           one of WxConsts.ACCESS_TOKEN_ERROR_CODES (40001, 40014,
 *                           42001) for the token this storage still holds, then
 *                           retries the call once (autoRefreshToken() is true by default;
 *                           since 4.x executeInternal's doNotAutoRefresh allows one retry
 *                           only: a second refusal reports that token too, then throws
 *                           WxErrorException; test/interop/recipe-wxjava.test.ts runs it)
 * and WxMpService.getAccessToken(boolean forceRefresh), overridden in Service below
 * so that an explicit force refresh goes through wxtoken as well.
 *
 * HTTP API: GET /v1/apps/{app_id}/token and POST /v1/apps/{app_id}/token:refresh
 * with {"staleToken": "..."}, both answering {"token": {"appId", "accessToken",
 * "version", "expiresAt"}} (proto3 JSON). The POST is compare-and-refresh (ForceRefresh in proto/).
 */
package com.example.wechat;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import me.chanjar.weixin.common.error.WxErrorException;
import me.chanjar.weixin.mp.api.impl.WxMpServiceImpl;
import me.chanjar.weixin.mp.config.impl.WxMpDefaultConfigImpl;

public class WxTokenMpConfigStorage extends WxMpDefaultConfigImpl {
  private final String baseUrl; // wxtoken's HTTP listener, e.g. http://wxtoken:8080
  private final transient HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
  private volatile long reuseUntilMillis;

  public WxTokenMpConfigStorage(String appId, String baseUrl) {
    this.baseUrl = baseUrl;
    setAppId(appId); // no setSecret(): the appsecret lives on wxtoken only
  }

  @Override
  public String getAccessToken() {
    // wxtoken refreshes ahead of expiry and WeChat accepts the previous token for
    // about five minutes after a rotation, so reusing an answer for 60 s is safe.
    if (this.accessToken == null || System.currentTimeMillis() >= reuseUntilMillis) {
      getAccessTokenLock().lock();
      try {
        if (this.accessToken == null || System.currentTimeMillis() >= reuseUntilMillis) {
          remember(call("GET", "/token", null));
        }
      } finally {
        getAccessTokenLock().unlock();
      }
    }
    return this.accessToken;
  }

  @Override
  public boolean isAccessTokenExpired() {
    return false;
  }

  @Override
  public void expireAccessToken() {
    // Report the rejected token; wxtoken refreshes once however many callers report it.
    String stale = this.accessToken;
    if (stale == null) return;
    JsonObject body = new JsonObject();
    body.addProperty("staleToken", stale);
    remember(call("POST", "/token:refresh", body.toString()));
  }

  private JsonObject call(String method, String suffix, String json) {
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/apps/" + getAppId() + suffix))
        .timeout(Duration.ofSeconds(5))
        .header("Content-Type", "application/json")
        .method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
    try {
      HttpResponse<String> res = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
      if (res.statusCode() != 200) throw new IOException("wxtoken answered HTTP " + res.statusCode() + ": " + res.body());
      return JsonParser.parseString(res.body()).getAsJsonObject().getAsJsonObject("token");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private void remember(JsonObject token) {
    // expiresAt: an RFC 3339 string (the proto3 JSON form of a Timestamp).
    JsonElement e = token.get("expiresAt");
    long expiresAt = e.getAsJsonPrimitive().isNumber() ? e.getAsLong() * 1000 : Instant.parse(e.getAsString()).toEpochMilli();
    this.accessToken = token.get("accessToken").getAsString();
    this.reuseUntilMillis = Math.min(System.currentTimeMillis() + 60_000, expiresAt - 30_000);
  }

  /** A WxMpService whose getAccessToken(true) is a passive refresh through wxtoken too. */
  public static class Service extends WxMpServiceImpl {
    @Override
    public String getAccessToken(boolean forceRefresh) throws WxErrorException {
      if (forceRefresh) getWxMpConfigStorage().expireAccessToken();
      return getWxMpConfigStorage().getAccessToken();
    }
  }

  // Usage:
  //   WxMpService mp = new WxTokenMpConfigStorage.Service();
  //   mp.setWxMpConfigStorage(new WxTokenMpConfigStorage("wx1234567890abcdef", "http://wxtoken:8080"));
  //   mp.getMenuService().menuGet();   // a 40001/40014/42001 is reported and the call retried once
}
