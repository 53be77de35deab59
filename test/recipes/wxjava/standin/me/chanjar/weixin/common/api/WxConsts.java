package me.chanjar.weixin.common.api;

import java.util.Arrays;
import java.util.List;

/** Stand-in of weixin-java-common 4.7.0's WxConsts (the one list used here). */
public class WxConsts {
  /** 40001, 40014, 42001: WxConsts.ACCESS_TOKEN_ERROR_CODES. */
  public static final List<Integer> ACCESS_TOKEN_ERROR_CODES = Arrays.asList(40001, 40014, 42001);
}
