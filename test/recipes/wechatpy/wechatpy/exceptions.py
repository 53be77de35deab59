"""wechatpy/exceptions.py at v1.8.18 (six shims dropped)."""


class WeChatException(Exception):
    def __init__(self, errcode, errmsg):
        self.errcode = errcode
        self.errmsg = errmsg

    def __str__(self):
        return f"Error code: {self.errcode}, message: {self.errmsg}"


class WeChatClientException(WeChatException):
    def __init__(self, errcode, errmsg, client=None, request=None, response=None):
        super().__init__(errcode, errmsg)
        self.client = client
        self.request = request
        self.response = response


class APILimitedException(WeChatClientException):
    pass
