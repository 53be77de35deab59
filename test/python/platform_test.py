"""A Python business service of an Open Platform (第三方平台) reads an
authorizer's token from wxtoken and watches it rotate.

Run by test/interop/python-platform.test.ts, which starts the server (its push
receiver fed by the fake WeChat: ticket -> component token -> two
authorizations) and sets:
  WXTOKEN_ADDR         host:port of the server
  WXTOKEN_COMPONENT    the platform's component appid
  WXTOKEN_AUTHORIZERS  the two authorizer appids, comma-separated

The watch test prints "WATCHING <version>" once the current token arrived;
the TypeScript side then moves the server's clock to the refresh time and
the stream must deliver a newer version.

Stubs are generated from proto/ at run time, as in client_test.py.
"""

import os
import sys
import tempfile
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test import DEADLINE_S, generate_stubs  # noqa: E402

ADDR = os.environ.get("WXTOKEN_ADDR", "")
COMPONENT = os.environ.get("WXTOKEN_COMPONENT", "")
AUTHORIZERS = [a for a in os.environ.get("WXTOKEN_AUTHORIZERS", "").split(",") if a]


class PlatformTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ADDR or not COMPONENT or len(AUTHORIZERS) != 2:
            raise unittest.SkipTest("set WXTOKEN_ADDR, WXTOKEN_COMPONENT and WXTOKEN_AUTHORIZERS (test/interop/python-platform.test.ts does)")
        cls.pb, pb_grpc = generate_stubs(tempfile.mkdtemp(prefix="wxtoken-py-"))
        cls.channel = grpc.insecure_channel(ADDR)
        grpc.channel_ready_future(cls.channel).result(timeout=DEADLINE_S)
        cls.stub = pb_grpc.TokenServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_1_lists_the_platform(self):
        res = self.stub.ListAuthorizers(self.pb.ListAuthorizersRequest(component_app_id=COMPONENT), timeout=DEADLINE_S)
        self.assertEqual(res.component_app_id, COMPONENT)
        self.assertGreater(res.component_token_version, 0)
        self.assertTrue(res.verify_ticket_expires_at.seconds > 0)
        self.assertEqual(sorted(a.app_id for a in res.authorizers), sorted(AUTHORIZERS))
        for a in res.authorizers:
            self.assertEqual(a.status, self.pb.AUTHORIZER_STATUS_ACTIVE)
            self.assertGreater(a.token_version, 0)

    def test_2_reads_each_authorizer_token(self):
        for app_id in AUTHORIZERS:
            token = self.stub.GetToken(self.pb.GetTokenRequest(app_id=app_id), timeout=DEADLINE_S).token
            self.assertEqual(token.app_id, app_id)
            self.assertTrue(token.access_token)
            self.assertGreater(token.expires_at.seconds, token.obtained_at.seconds)
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.ListAuthorizers(self.pb.ListAuthorizersRequest(component_app_id="wxnosuchplatform"), timeout=DEADLINE_S)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_3_watches_an_authorizer_token_rotate(self):
        app_id = AUTHORIZERS[0]
        stream = self.stub.WatchToken(self.pb.WatchTokenRequest(app_id=app_id), timeout=60)
        first = next(stream).token
        print(f"WATCHING {first.version}", flush=True)
        second = next(stream).token
        stream.cancel()
        self.assertEqual(second.app_id, app_id)
        self.assertGreater(second.version, first.version)
        self.assertNotEqual(second.access_token, first.access_token)
        current = self.stub.GetToken(self.pb.GetTokenRequest(app_id=app_id), timeout=DEADLINE_S).token
        self.assertEqual(current.access_token, second.access_token)


if __name__ == "__main__":
    unittest.main(verbosity=2)
