import com.example.wechat.WxTokenMpConfigStorage;
import me.chanjar.weixin.common.error.WxErrorException;
import me.chanjar.weixin.mp.config.WxMpHostConfig;

/**
 * Runs examples/wxjava/WxTokenMpConfigStorage.java with the WxJava stand-in
 * (standin/), against a real wxtoken (HTTP/JSON API) and WeChat (the fake one),
 * as the recipe's usage does: getCallbackIP() through its Service.
 *
 * Environment: WXTOKEN_HTTP, WXTOKEN_APP_ID, WECHAT_API_BASE (ending in /cgi-bin/).
 * Prints one JSON line. Exit 0: the call succeeded; 3: WxErrorException; else 1.
 */
public class RunWxJava {
  public static void main(String[] args) {
    WxTokenMpConfigStorage storage = new WxTokenMpConfigStorage(System.getenv("WXTOKEN_APP_ID"), System.getenv("WXTOKEN_HTTP"));
    WxMpHostConfig host = new WxMpHostConfig();
    host.setApiHost(System.getenv("WECHAT_API_BASE").replaceAll("/cgi-bin/?$", ""));
    storage.setHostConfig(host);
    WxTokenMpConfigStorage.Service mp = new WxTokenMpConfigStorage.Service();
    mp.setWxMpConfigStorage(storage);
    try {
      String[] ips = mp.getCallbackIP();
      System.out.println("{\"ok\": true, \"ips\": " + ips.length + "}");
    } catch (WxErrorException e) {
      String message = e.getMessage().replace("\\", "\\\\").replace("\"", "\\\"");
      System.out.println("{\"ok\": false, \"errcode\": " + e.getError().getErrorCode() + ", \"error\": \"getCallbackIP: " + message + "\"}");
      System.exit(3);
    }
  }
}
