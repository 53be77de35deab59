"""A stand-in for wechatpy 1.8.18, which cannot be installed here (no PyPI).

Only what examples/wechatpy/wxtoken_client.py plugs into, with wechatpy's own
behaviour: the access_token property, _request, and _handle_result's retry on
40001/40014/42001. Copied from wechatpy/client/base.py, wechatpy/client/__init__.py,
wechatpy/client/api/misc.py, wechatpy/session/memorystorage.py and
wechatpy/exceptions.py at tag v1.8.18 of github.com/wechatpy/wechatpy
(Python 2 shims dropped; `requests` as the real one uses).
"""
from wechatpy.client import WeChatClient  # noqa: F401
from wechatpy.exceptions import WeChatClientException  # noqa: F401
