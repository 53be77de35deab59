"""A Python business service talking to a live wxtoken server.

Proves the contract in proto/ works from another language: stubs are
generated from proto/ at run time (nothing generated is checked in), then
GetToken, ForceRefresh and WatchToken are called over the network.

Run by test/interop/python.test.ts, which starts the server and sets:
  WXTOKEN_ADDR    host:port of the server, e.g. 127.0.0.1:50051
  WXTOKEN_APP_ID  an app the server is configured for, with its jsapi ticket
  WXTOKEN_CORP_ID, WXTOKEN_AGENT  a WeCom corp and agent the server holds

Needs Debian's python3-grpcio and python3-grpc-tools (under /usr/bin/python3).
Their protoc is old: plain --python_out/--grpc_python_out, no --pyi_out.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import grpc

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
# The service and the google.api HTTP annotations it imports (generated too, or the import fails).
PROTO_FILES = ["wxtoken/v1/token_service.proto", "google/api/annotations.proto", "google/api/http.proto"]
ADDR = os.environ.get("WXTOKEN_ADDR", "")
APP_ID = os.environ.get("WXTOKEN_APP_ID", "")
CORP_ID = os.environ.get("WXTOKEN_CORP_ID", "")
AGENT = os.environ.get("WXTOKEN_AGENT", "")
# Every call gets a deadline; a watch that should deliver "at once" must do so well within this.
DEADLINE_S = 10.0
AT_ONCE_S = 2.0


def generate_stubs(out_dir):
    """protoc from grpc_tools; google/protobuf/{timestamp,descriptor}.proto come from its bundled includes."""
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}",
         f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *(str(PROTO_ROOT / f) for f in PROTO_FILES)],
        check=True,
    )
    sys.path.insert(0, out_dir)
    from wxtoken.v1 import token_service_pb2, token_service_pb2_grpc  # noqa: E402 (generated just now)
    return token_service_pb2, token_service_pb2_grpc


class TokenServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ADDR or not APP_ID or not CORP_ID or not AGENT:
            raise unittest.SkipTest("set WXTOKEN_ADDR, WXTOKEN_APP_ID, WXTOKEN_CORP_ID and WXTOKEN_AGENT (test/interop/python.test.ts does)")
        cls.stub_dir = tempfile.mkdtemp(prefix="wxtoken-py-")
        cls.pb, pb_grpc = generate_stubs(cls.stub_dir)
        cls.channel = grpc.insecure_channel(ADDR)
        grpc.channel_ready_future(cls.channel).result(timeout=DEADLINE_S)
        cls.stub = pb_grpc.TokenServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        shutil.rmtree(cls.stub_dir, ignore_errors=True)

    def get_token(self):
        return self.stub.GetToken(self.pb.GetTokenRequest(app_id=APP_ID), timeout=DEADLINE_S).token

    def force_refresh(self, stale):
        return self.stub.ForceRefresh(self.pb.ForceRefreshRequest(app_id=APP_ID, stale_token=stale), timeout=DEADLINE_S)

    def test_get_token_returns_a_valid_token_with_its_lifetime(self):
        token = self.get_token()
        self.assertEqual(token.app_id, APP_ID)
        self.assertTrue(token.access_token)
        self.assertGreaterEqual(token.version, 1)
        obtained, expires, refresh = (t.ToDatetime() for t in (token.obtained_at, token.expires_at, token.refresh_at))
        self.assertLess(obtained, refresh)
        self.assertLess(refresh, expires)
        self.assertEqual(token.fingerprint, hashlib.sha256(token.access_token.encode()).hexdigest()[:8])

    def test_errors_come_back_as_status_codes(self):
        with self.assertRaises(grpc.RpcError) as unknown:
            self.stub.GetToken(self.pb.GetTokenRequest(app_id="wxnotconfigured"), timeout=DEADLINE_S)
        self.assertEqual(unknown.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as malformed:
            self.stub.GetToken(self.pb.GetTokenRequest(app_id="not an app id!"), timeout=DEADLINE_S)
        self.assertEqual(malformed.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_force_refresh_replaces_a_stale_token_once(self):
        stale = self.get_token()
        first = self.force_refresh(stale.access_token)
        self.assertTrue(first.refreshed)
        self.assertGreater(first.token.version, stale.version)
        self.assertNotEqual(first.token.access_token, stale.access_token)
        # Someone already replaced it: the current token, no upstream call.
        again = self.force_refresh(stale.access_token)
        self.assertFalse(again.refreshed)
        self.assertEqual(again.token.access_token, first.token.access_token)
        self.assertEqual(self.get_token().version, first.token.version)

    def test_watch_sends_the_current_token_at_once_then_the_rotation(self):
        current = self.get_token()
        stream = self.stub.WatchToken(self.pb.WatchTokenRequest(app_id=APP_ID, known_version=0), timeout=DEADLINE_S)
        try:
            started = time.monotonic()
            first = next(stream)
            self.assertLess(time.monotonic() - started, AT_ONCE_S)
            self.assertEqual(first.token.version, current.version)
            self.assertEqual(first.token.access_token, current.access_token)
            rotated = self.force_refresh(current.access_token)
            self.assertTrue(rotated.refreshed)
            second = next(stream)
            self.assertEqual(second.token.version, rotated.token.version)
            self.assertEqual(second.token.access_token, rotated.token.access_token)
        finally:
            stream.cancel()

    def test_watch_skips_the_version_the_client_already_has(self):
        current = self.get_token()
        stream = self.stub.WatchToken(self.pb.WatchTokenRequest(app_id=APP_ID, known_version=current.version), timeout=DEADLINE_S)
        try:
            rotated = self.force_refresh(current.access_token)
            self.assertEqual(next(stream).token.version, rotated.token.version)
        finally:
            stream.cancel()


    def test_jsapi_ticket_and_a_signature_the_page_can_check(self):
        pb = self.pb
        ticket = self.stub.GetToken(pb.GetTokenRequest(app_id=APP_ID, kind=pb.CREDENTIAL_KIND_JSAPI_TICKET), timeout=DEADLINE_S).token
        self.assertEqual(ticket.kind, pb.CREDENTIAL_KIND_JSAPI_TICKET)
        self.assertTrue(ticket.access_token)
        page = "https://h5.example.com/order?id=42"
        signed = self.stub.SignJsSdk(pb.SignJsSdkRequest(app_id=APP_ID, url=page + "#/pay"), timeout=DEADLINE_S)
        self.assertEqual(signed.url, page)
        self.assertEqual(signed.ticket_fingerprint, ticket.fingerprint)
        # The JS-SDK algorithm, written out here: sha1 over the four fields in ASCII order.
        plain = "jsapi_ticket=%s&noncestr=%s&timestamp=%d&url=%s" % (ticket.access_token, signed.nonce_str, signed.timestamp, page)
        self.assertEqual(signed.signature, hashlib.sha1(plain.encode()).hexdigest())

    def test_a_wecom_agent_token_is_its_own(self):
        pb = self.pb
        token = self.stub.GetToken(pb.GetTokenRequest(app_id=CORP_ID, agent=AGENT), timeout=DEADLINE_S).token
        self.assertEqual((token.app_id, token.agent, token.kind), (CORP_ID, AGENT, pb.CREDENTIAL_KIND_ACCESS_TOKEN))
        self.assertNotEqual(token.access_token, self.get_token().access_token)
        with self.assertRaises(grpc.RpcError) as other:
            self.stub.GetToken(pb.GetTokenRequest(app_id=CORP_ID, agent="1000099"), timeout=DEADLINE_S)
        self.assertEqual(other.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main(verbosity=2)
