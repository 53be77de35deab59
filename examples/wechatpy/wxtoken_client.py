"""wechatpy takes its access_token from wxtoken, over gRPC.

Written against wechatpy 1.8.18 (2.0.0a26 has the same hooks), with grpcio and
stubs generated from this repository's proto/:

    mkdir -p gen
    python3 -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen \
        proto/wxtoken/v1/token_service.proto \
        proto/google/api/annotations.proto proto/google/api/http.proto

(token_service_pb2 imports google.api.annotations_pb2: without the last two
files, `import` fails with "No module named 'google.api'"), and gen/ on sys.path.

The extension point is a wechatpy.WeChatClient subclass overriding
fetch_access_token(), which BaseWeChatClient calls
  - from the access_token property, when the session storage holds no token or
    it is within 60 s of expires_at; and
  - from _handle_result, with auto_retry=True, when WeChat answered 40001, 40014
    or 42001 (WeChatErrorCode.INVALID_CREDENTIAL, INVALID_ACCESS_TOKEN,
    EXPIRED_ACCESS_TOKEN); it then retries the request once with the token it
    finds in the session.
fetch_access_token() must leave the token in the session storage
(session.set(access_token_key, ...)) and set expires_at, as the stock
WeChatClient does. The stock one calls WeChat with the appsecret; this one never
does, so no secret is passed. Any wechatpy session works (MemoryStorage,
RedisStorage shared by workers, ...).
"""

import time

import grpc
from wechatpy import WeChatClient

from wxtoken.v1 import token_service_pb2 as pb
from wxtoken.v1 import token_service_pb2_grpc as pb_grpc

# wxtoken refreshes ahead of expiry and WeChat accepts the previous token for
# about five minutes after a rotation, so a token is reused for 60 s at most:
# expires_at is set 120 s ahead and wechatpy fetches again 60 s before it.
LOCAL_LIFETIME_S = 120


class WxTokenWeChatClient(WeChatClient):
    def __init__(self, appid, channel, session=None, timeout=None, auto_retry=True, metadata=()):
        super().__init__(appid, None, session=session, timeout=timeout, auto_retry=auto_retry)
        self._stub = pb_grpc.TokenServiceStub(channel)
        # e.g. (("authorization", "Bearer <api key>"),) when the server requires API keys
        self._metadata = tuple(metadata)

    def fetch_access_token(self):
        held = self.session.get(self.access_token_key)
        if held and self.expires_at and self.expires_at - time.time() > 60:
            # Still fresh by its lifetime, yet asked for again: WeChat rejected it
            # (40001/40014/42001). Passive refresh, compare-and-refresh on that token:
            # if another worker already replaced it, wxtoken just returns the new one.
            token = self._stub.ForceRefresh(
                pb.ForceRefreshRequest(app_id=self.appid, stale_token=held), timeout=5, metadata=self._metadata
            ).token
        else:
            token = self._stub.GetToken(pb.GetTokenRequest(app_id=self.appid), timeout=5, metadata=self._metadata).token
        # A gRPC error (grpc.RpcError: UNAVAILABLE, FAILED_PRECONDITION, ...) propagates to the caller.
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
    print(client.misc.get_wechat_ips())  # a 40001/40014/42001 is reported and the call retried once
