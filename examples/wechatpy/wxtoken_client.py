"""wechatpy takes its access_token from wxtoken, over gRPC.

Written against wechatpy 1.8.18 (2.0.0a26 has the same hooks), with grpcio and
stubs generated from this repository's proto/:

    mkdir -p gen
    python3 -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen \
        proto/wxtoken/v1/token_service.proto \
        proto/google/api/annotations.proto proto/google/api/http.proto

(token_service_pb2 imports google.api.annotations_pb2: without the last two
files, `import` fails with "No module named 'google.api'"), and gen/ on sys.path.

The extension point is a wechatpy.WeChatClient subclass:
  - fetch_access_token(), which BaseWeChatClient's access_token property calls
    when the session storage holds no token or it is within 60 s of
    expires_at: here a GetToken. It leaves the token in the session storage
    (session.set(access_token_key, ...)) and sets expires_at, as the stock
    WeChatClient does, which calls WeChat with the appsecret; this one never
    does, so no secret is passed.
  - _handle_result(), where wechatpy (auto_retry=True) meets WeChat's 40001,
    40014 or 42001 (WeChatErrorCode.INVALID_CREDENTIAL, INVALID_ACCESS_TOKEN,
    EXPIRED_ACCESS_TOKEN). Stock wechatpy then calls fetch_access_token() and
    retries through _request with no limit: with a token under a minute from
    expiry that fetched the same refused token again and recursed until
    RecursionError. Here the token the refused request carried is reported
    to wxtoken (ForceRefresh, compare-and-refresh on that exact token: if
    another worker already replaced it, wxtoken just returns the new one) and
    the request is retried once; a second refusal raises WeChatClientException.
Any wechatpy session works (MemoryStorage, RedisStorage shared by workers, ...).
"""

import threading
import time

import grpc
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from wxtoken.v1 import token_service_pb2 as pb
from wxtoken.v1 import token_service_pb2_grpc as pb_grpc

# WeChat's answers for an access_token it no longer accepts.
STALE_TOKEN_ERRCODES = (40001, 40014, 42001)

# wxtoken refreshes ahead of expiry and WeChat accepts the previous token for
# about five minutes after a rotation, so a token is reused for 60 s at most:
# expires_at is set 120 s ahead and wechatpy fetches again 60 s before it.
LOCAL_LIFETIME_S = 120


def _errcode(result):
    if not isinstance(result, dict):
        return None
    body = result["base_resp"] if isinstance(result.get("base_resp"), dict) else result
    try:
        return int(body.get("errcode", 0))
    except (TypeError, ValueError):
        return None


class WxTokenWeChatClient(WeChatClient):
    def __init__(self, appid, channel, session=None, timeout=None, auto_retry=True, metadata=()):
        super().__init__(appid, None, session=session, timeout=timeout, auto_retry=auto_retry)
        self._stub = pb_grpc.TokenServiceStub(channel)
        # e.g. (("authorization", "Bearer <api key>"),) when the server requires API keys
        self._metadata = tuple(metadata)
        self._retrying = threading.local()

    def fetch_access_token(self):
        # A gRPC error (grpc.RpcError: UNAVAILABLE, FAILED_PRECONDITION, ...) propagates to the caller.
        return self._remember(self._stub.GetToken(pb.GetTokenRequest(app_id=self.appid), timeout=5, metadata=self._metadata).token)

    def _handle_result(self, res, method=None, url=None, result_processor=None, **kwargs):
        result = res if isinstance(res, dict) else self._decode_result(res)
        errcode = _errcode(result)
        if not (self.auto_retry and errcode in STALE_TOKEN_ERRCODES):
            return super()._handle_result(res, method, url, result_processor, **kwargs)
        params = kwargs.get("params")
        refused = params.get("access_token") if isinstance(params, dict) else None
        if getattr(self._retrying, "active", False) or not refused:
            # Refused again after a refresh: WeChat's error, not another round.
            raise WeChatClientException(errcode, result.get("errmsg", errcode), client=self, request=getattr(res, "request", None), response=res)
        # Passive refresh of the exact token WeChat refused: compare-and-refresh,
        # so a burst of refusals across workers makes one upstream call.
        refreshed = self._stub.ForceRefresh(pb.ForceRefreshRequest(app_id=self.appid, stale_token=refused), timeout=5, metadata=self._metadata)
        self._remember(refreshed.token)
        params["access_token"] = refreshed.token.access_token
        self._retrying.active = True
        try:
            return self._request(method=method, url_or_endpoint=url, result_processor=result_processor, **kwargs)
        finally:
            self._retrying.active = False

    def _remember(self, token):
        now = int(time.time())
        expires_at = min(now + LOCAL_LIFETIME_S, token.expires_at.seconds)
        self.session.set(self.access_token_key, token.access_token, max(expires_at - now, 1))
        self.expires_at = expires_at
        return {"access_token": token.access_token, "expires_in": expires_at - now}


if __name__ == "__main__":
    # Usage: WXTOKEN_ADDR=wxtoken:50051 python3 wxtoken_client.py wx1234567890abcdef
    import os
    import sys

    client = WxTokenWeChatClient(sys.argv[1], grpc.insecure_channel(os.environ.get("WXTOKEN_ADDR", "127.0.0.1:50051")))
    print(client.misc.get_wechat_ips())  # a 40001/40014/42001 is reported and the call retried once, at most
