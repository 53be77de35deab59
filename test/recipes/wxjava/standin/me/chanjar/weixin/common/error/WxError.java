package me.chanjar.weixin.common.error;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/** Stand-in of weixin-java-common 4.7.0's WxError: errcode and errmsg of a WeChat answer. */
public class WxError {
  private final int errorCode;
  private final String errorMsg;

  public WxError(int errorCode, String errorMsg) {
    this.errorCode = errorCode;
    this.errorMsg = errorMsg;
  }

  /** WxError.fromJson: a body without errcode is errcode 0. */
  public static WxError fromJson(String json) {
    JsonObject o = JsonParser.parseString(json).getAsJsonObject();
    int code = o.has("errcode") ? o.get("errcode").getAsInt() : 0;
    String msg = o.has("errmsg") ? o.get("errmsg").getAsString() : "";
    return new WxError(code, msg);
  }

  public int getErrorCode() {
    return errorCode;
  }

  public String getErrorMsg() {
    return errorMsg;
  }

  @Override
  public String toString() {
    return "错误代码：" + errorCode + ", 错误信息：" + errorMsg;
  }
}
