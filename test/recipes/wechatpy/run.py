"""Runs examples/wechatpy/wxtoken_client.py with the wechatpy stand-in beside this
file, against a real wxtoken (gRPC) and WeChat (the fake one), as the recipe's
own __main__ does: client.misc.get_wechat_ips().

Environment: WXTOKEN_ADDR (host:port of wxtoken's gRPC listener), WXTOKEN_APP_ID,
WECHAT_API_BASE (WeChat's base URL, e.g. http://127.0.0.1:1234/cgi-bin/).
Prints one JSON line. Exit 0: the call succeeded; 3: it failed with WeChat's
error (WeChatClientException); anything else (a traceback, RecursionError): 1.
Needs Debian's python3-grpcio, python3-grpc-tools and python3-requests.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PROTO = ROOT / "proto"


def main():
    gen = tempfile.mkdtemp(prefix="wxtoken-wechatpy-")
    try:
        # The stub command of the recipe's docstring.
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"--python_out={gen}", f"--grpc_python_out={gen}",
             str(PROTO / "wxtoken/v1/token_service.proto"), str(PROTO / "google/api/annotations.proto"), str(PROTO / "google/api/http.proto")],
            check=True,
        )
        sys.path[:0] = [str(HERE), gen, str(ROOT / "examples" / "wechatpy")]
        import grpc
        from wechatpy import WeChatClient, WeChatClientException
        from wxtoken_client import WxTokenWeChatClient

        WeChatClient.API_BASE_URL = os.environ["WECHAT_API_BASE"]
        with grpc.insecure_channel(os.environ["WXTOKEN_ADDR"]) as channel:
            client = WxTokenWeChatClient(os.environ["WXTOKEN_APP_ID"], channel)
            try:
                ips = client.misc.get_wechat_ips()
            except WeChatClientException as e:
                print(json.dumps({"ok": False, "errcode": e.errcode, "error": str(e)}))
                return 3
            print(json.dumps({"ok": True, "ips": len(ips)}))
            return 0
    finally:
        shutil.rmtree(gen, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
