package me.chanjar.weixin.common.error;

/** Stand-in of weixin-java-common 4.7.0's WxErrorException: a WeChat error as an exception. */
public class WxErrorException extends Exception {
  private final WxError error;

  public WxErrorException(WxError error) {
    super(error.toString());
    this.error = error;
  }

  public WxErrorException(WxError error, Throwable cause) {
    super(error.toString(), cause);
    this.error = error;
  }

  public WxErrorException(Throwable cause) {
    super(cause.getMessage(), cause);
    this.error = new WxError(-1, cause.getMessage());
  }

  public WxError getError() {
    return error;
  }
}
