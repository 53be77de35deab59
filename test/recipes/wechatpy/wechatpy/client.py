"""BaseWeChatClient and WeChatClient as in wechatpy v1.8.18 (wechatpy/client/base.py,
wechatpy/client/__init__.py): the parts a WeChatClient subclass relies on.

Note _handle_result: on 40001/40014/42001 (with auto_retry) it calls
fetch_access_token() and retries through _request with no limit: a subclass
whose fetch_access_token() hands back the same refused token recurses until
RecursionError. That is the real SDK's behaviour, kept here on purpose.
"""
import json
import logging
import time

import requests

from wechatpy.exceptions import APILimitedException, WeChatClientException

logger = logging.getLogger(__name__)

# wechatpy/constants.py WeChatErrorCode: INVALID_CREDENTIAL, INVALID_ACCESS_TOKEN, EXPIRED_ACCESS_TOKEN
_TOKEN_ERRCODES = (40001, 40014, 42001)
_OUT_OF_API_FREQ_LIMIT = 45009


class MemoryStorage:
    """wechatpy/session/memorystorage.py."""

    def __init__(self):
        self._data = {}

    def get(self, key, default=None):
        return self._data.get(key, default)

    def set(self, key, value, ttl=None):
        if value is None:
            return
        self._data[key] = value

    def delete(self, key):
        self._data.pop(key, None)


class WeChatMisc:
    """wechatpy/client/api/misc.py (BaseWeChatAPI._get inlined)."""

    def __init__(self, client):
        self._client = client

    def get_wechat_ips(self):
        return self._client.get("getcallbackip", result_processor=lambda x: x["ip_list"])


class BaseWeChatClient:
    API_BASE_URL = ""

    def __init__(self, appid, access_token=None, session=None, timeout=None, auto_retry=True):
        self._http = requests.Session()
        self.appid = appid
        self.expires_at = None
        self.session = session or MemoryStorage()
        self.timeout = timeout
        self.auto_retry = auto_retry
        self.misc = WeChatMisc(self)
        if access_token:
            self.session.set(self.access_token_key, access_token)

    @property
    def access_token_key(self):
        return f"{self.appid}_access_token"

    def _request(self, method, url_or_endpoint, **kwargs):
        if not url_or_endpoint.startswith(("http://", "https://")):
            api_base_url = kwargs.pop("api_base_url", self.API_BASE_URL)
            url = f"{api_base_url}{url_or_endpoint}"
        else:
            url = url_or_endpoint

        if "params" not in kwargs:
            kwargs["params"] = {}
        if isinstance(kwargs["params"], dict) and "access_token" not in kwargs["params"]:
            kwargs["params"]["access_token"] = self.access_token
        if isinstance(kwargs.get("data", ""), dict):
            kwargs["data"] = json.dumps(kwargs["data"], ensure_ascii=False).encode("utf-8")

        kwargs["timeout"] = kwargs.get("timeout", self.timeout)
        result_processor = kwargs.pop("result_processor", None)
        res = self._http.request(method=method, url=url, **kwargs)
        try:
            res.raise_for_status()
        except requests.RequestException as reqe:
            raise WeChatClientException(errcode=None, errmsg=None, client=self, request=reqe.request, response=reqe.response)

        return self._handle_result(res, method, url, result_processor, **kwargs)

    def _decode_result(self, res):
        try:
            result = json.loads(res.content.decode("utf-8", "ignore"), strict=False)
        except (TypeError, ValueError):
            logger.debug("Can not decode response as JSON", exc_info=True)
            return res
        return result

    def _handle_result(self, res, method=None, url=None, result_processor=None, **kwargs):
        if not isinstance(res, dict):
            result = self._decode_result(res)
        else:
            result = res

        if not isinstance(result, dict):
            return result

        if "base_resp" in result:
            result.update(result.pop("base_resp"))
        if "errcode" in result:
            result["errcode"] = int(result["errcode"])

        if "errcode" in result and result["errcode"] != 0:
            errcode = result["errcode"]
            errmsg = result.get("errmsg", errcode)
            if self.auto_retry and errcode in _TOKEN_ERRCODES:
                logger.info("Access token expired, fetch a new one and retry request")
                self.fetch_access_token()
                access_token = self.session.get(self.access_token_key)
                kwargs["params"]["access_token"] = access_token
                return self._request(method=method, url_or_endpoint=url, result_processor=result_processor, **kwargs)
            elif errcode == _OUT_OF_API_FREQ_LIMIT:
                raise APILimitedException(errcode, errmsg, client=self, request=res.request, response=res)
            else:
                raise WeChatClientException(errcode, errmsg, client=self, request=res.request, response=res)

        return result if not result_processor else result_processor(result)

    def get(self, url, **kwargs):
        return self._request(method="get", url_or_endpoint=url, **kwargs)

    def post(self, url, **kwargs):
        return self._request(method="post", url_or_endpoint=url, **kwargs)

    def fetch_access_token(self):
        raise NotImplementedError()

    @property
    def access_token(self):
        access_token = self.session.get(self.access_token_key)
        if access_token:
            if not self.expires_at:
                # user provided access_token, just return it
                return access_token
            timestamp = time.time()
            if self.expires_at - timestamp > 60:
                return access_token

        self.fetch_access_token()
        return self.session.get(self.access_token_key)


class WeChatClient(BaseWeChatClient):
    API_BASE_URL = "https://api.weixin.qq.com/cgi-bin/"

    def __init__(self, appid, secret, access_token=None, session=None, timeout=None, auto_retry=True):
        super().__init__(appid, access_token, session, timeout, auto_retry)
        self.appid = appid
        self.secret = secret

    def fetch_access_token(self):
        # The stock one calls https://api.weixin.qq.com/cgi-bin/token with the secret;
        # a recipe overrides it, so the stand-in never does.
        raise NotImplementedError("the stand-in WeChatClient fetches no token itself")
