"""Machine-readable errors from Python: google.rpc.Status in grpc-status-details-bin.

A Python grpcio client reads the trailer of a failed call and decodes the
google.rpc.Status, its ErrorInfo and RetryInfo, with stubs generated from
proto/ at run time (google/rpc included). Nothing beyond grpcio and protobuf
is needed (not grpcio-status, which Debian does not package).

Run by test/server/error-details.test.ts, which starts the server with a fake WeChat
that refuses one app with an errcode, and sets:
  WXTOKEN_ADDR     host:port of the server
  WXTOKEN_APP_ID   the refused app
  WXTOKEN_ERRCODE  the errcode WeChat answers for it (an IP whitelist error)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import grpc

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
PROTO_FILES = ["wxtoken/v1/token_service.proto", "google/api/annotations.proto", "google/api/http.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"]
ADDR = os.environ.get("WXTOKEN_ADDR", "")
APP_ID = os.environ.get("WXTOKEN_APP_ID", "")
ERRCODE = os.environ.get("WXTOKEN_ERRCODE", "")
DETAILS_KEY = "grpc-status-details-bin"
DEADLINE_S = 10.0


def generate_stubs(out_dir):
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}", *(str(PROTO_ROOT / f) for f in PROTO_FILES)],
        check=True,
    )
    sys.path.insert(0, out_dir)


class ErrorDetailsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ADDR or not APP_ID or not ERRCODE:
            raise unittest.SkipTest("set WXTOKEN_ADDR, WXTOKEN_APP_ID and WXTOKEN_ERRCODE (test/server/error-details.test.ts does)")
        cls.stub_dir = tempfile.mkdtemp(prefix="wxtoken-py-details-")
        generate_stubs(cls.stub_dir)
        # Generated just now; google.rpc lands beside Debian's google.protobuf (a namespace package).
        from google.rpc import error_details_pb2, status_pb2  # noqa: E402
        from wxtoken.v1 import token_service_pb2, token_service_pb2_grpc  # noqa: E402
        cls.pb, cls.status_pb2, cls.details_pb2 = token_service_pb2, status_pb2, error_details_pb2
        cls.channel = grpc.insecure_channel(ADDR)
        grpc.channel_ready_future(cls.channel).result(timeout=DEADLINE_S)
        cls.stub = token_service_pb2_grpc.TokenServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        shutil.rmtree(cls.stub_dir, ignore_errors=True)

    def failed_get(self, app_id):
        """GetToken that must fail: the RpcError and its decoded google.rpc.Status."""
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.GetToken(self.pb.GetTokenRequest(app_id=app_id), timeout=DEADLINE_S)
        err = caught.exception
        trailer = [v for k, v in err.trailing_metadata() if k == DETAILS_KEY]
        self.assertEqual(len(trailer), 1, f"no {DETAILS_KEY} in {err.trailing_metadata()}")
        status = self.status_pb2.Status.FromString(trailer[0])
        # The Status agrees with the plain status code and message.
        self.assertEqual(status.code, err.code().value[0])
        self.assertEqual(status.message, err.details())
        return err, status

    def unpack(self, status, message_type):
        found = [d for d in status.details if d.Is(message_type.DESCRIPTOR)]
        if not found:
            return None
        self.assertEqual(len(found), 1)
        out = message_type()
        self.assertTrue(found[0].Unpack(out))
        return out

    def test_a_wechat_refusal_carries_errcode_rid_and_when_to_retry(self):
        err, status = self.failed_get(APP_ID)
        self.assertEqual(err.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(
            [d.type_url for d in status.details],
            ["type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.RetryInfo"],
        )
        info = self.unpack(status, self.details_pb2.ErrorInfo)
        self.assertEqual(info.reason, "WECHAT_ERROR")
        self.assertEqual(info.domain, "wxtoken")
        self.assertEqual(info.metadata["app_id"], APP_ID)
        self.assertEqual(info.metadata["errcode"], ERRCODE)
        self.assertEqual(info.metadata["endpoint"], "/cgi-bin/token")
        self.assertTrue(info.metadata["rid"])
        self.assertIn(info.metadata["rid"], err.details())
        retry = self.unpack(status, self.details_pb2.RetryInfo)
        self.assertGreater(retry.retry_delay.ToMilliseconds(), 0)

    def test_a_malformed_app_id_says_which_argument_and_no_retry(self):
        err, status = self.failed_get("not an app id!")
        self.assertEqual(err.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.unpack(status, self.details_pb2.ErrorInfo).reason, "INVALID_APP_ID")
        self.assertIsNone(self.unpack(status, self.details_pb2.RetryInfo))

    def test_an_unknown_app_is_named(self):
        err, status = self.failed_get("wxnotconfigured")
        self.assertEqual(err.code(), grpc.StatusCode.NOT_FOUND)
        info = self.unpack(status, self.details_pb2.ErrorInfo)
        self.assertEqual((info.reason, dict(info.metadata)), ("UNKNOWN_APP", {"app_id": "wxnotconfigured"}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
