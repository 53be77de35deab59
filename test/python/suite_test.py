"""A Python business service of a WeCom service provider (企业微信服务商)
reads an installed corp's token through the provider's suite, signs a
wx.agentConfig page with it, and watches the token rotate.

Run by test/interop/python-suite.test.ts, which starts the server (its push
receiver fed by the fake WeChat: suite_ticket -> suite token -> one corp
installed by push, one by redirect code) and sets:
  WXTOKEN_ADDR   host:port of the server
  WXTOKEN_SUITE  the suite id (platform_id)
  WXTOKEN_CORPS  the two installed corpids, comma-separated

The watch test prints "WATCHING <version>" once the current token arrived;
the TypeScript side then makes WeCom refuse that token and reports it
(ForceRefresh), and the stream must deliver a newer version.

Stubs are generated from proto/ at run time, as in client_test.py.
"""

import hashlib
import os
import sys
import tempfile
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test import DEADLINE_S, generate_stubs  # noqa: E402

ADDR = os.environ.get("WXTOKEN_ADDR", "")
SUITE = os.environ.get("WXTOKEN_SUITE", "")
CORPS = [c for c in os.environ.get("WXTOKEN_CORPS", "").split(",") if c]


class SuiteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ADDR or not SUITE or len(CORPS) != 2:
            raise unittest.SkipTest("set WXTOKEN_ADDR, WXTOKEN_SUITE and WXTOKEN_CORPS (test/interop/python-suite.test.ts does)")
        cls.pb, pb_grpc = generate_stubs(tempfile.mkdtemp(prefix="wxtoken-py-"))
        cls.channel = grpc.insecure_channel(ADDR)
        grpc.channel_ready_future(cls.channel).result(timeout=DEADLINE_S)
        cls.stub = pb_grpc.TokenServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def corp_token(self, corp_id, kind=0):
        return self.stub.GetToken(self.pb.GetTokenRequest(app_id=corp_id, platform_id=SUITE, kind=kind), timeout=DEADLINE_S).token

    def test_1_lists_the_installed_corps(self):
        # ListAuthorizers takes a suite id in component_app_id.
        res = self.stub.ListAuthorizers(self.pb.ListAuthorizersRequest(component_app_id=SUITE), timeout=DEADLINE_S)
        self.assertEqual(res.component_app_id, SUITE)
        self.assertEqual(sorted(a.app_id for a in res.authorizers), sorted(CORPS))
        for a in res.authorizers:
            self.assertEqual(a.status, self.pb.AUTHORIZER_STATUS_ACTIVE)

    def test_2_reads_each_corp_token_through_the_suite(self):
        tokens = set()
        for corp_id in CORPS:
            token = self.corp_token(corp_id)
            self.assertEqual(token.app_id, corp_id)
            self.assertEqual(token.platform_id, SUITE)
            self.assertTrue(token.access_token)
            self.assertGreater(token.expires_at.seconds, token.obtained_at.seconds)
            tokens.add(token.access_token)
        self.assertEqual(len(tokens), 2)
        # The corp is no app of the config: without platform_id there is nothing to serve.
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.GetToken(self.pb.GetTokenRequest(app_id=CORPS[0]), timeout=DEADLINE_S)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_3_signs_a_wx_agent_config_page(self):
        url = "https://h5.example.com/app?from=python"
        signed = self.stub.SignJsSdk(
            self.pb.SignJsSdkRequest(app_id=CORPS[0], platform_id=SUITE, kind=self.pb.SIGNATURE_KIND_AGENT_CONFIG, url=url + "#top"),
            timeout=DEADLINE_S,
        )
        self.assertEqual((signed.app_id, signed.platform_id, signed.url), (CORPS[0], SUITE, url))
        self.assertTrue(signed.agent.isdigit(), signed.agent)
        ticket = self.corp_token(CORPS[0], self.pb.CREDENTIAL_KIND_AGENT_CONFIG_TICKET)
        self.assertEqual(ticket.version, signed.ticket_version)
        plain = f"jsapi_ticket={ticket.access_token}&noncestr={signed.nonce_str}&timestamp={signed.timestamp}&url={url}"
        self.assertEqual(hashlib.sha1(plain.encode()).hexdigest(), signed.signature)

    def test_4_watches_a_corp_token_rotate(self):
        corp_id = CORPS[0]
        stream = self.stub.WatchToken(self.pb.WatchTokenRequest(app_id=corp_id, platform_id=SUITE), timeout=60)
        first = next(stream).token
        self.assertEqual(first.platform_id, SUITE)
        print(f"WATCHING {first.version}", flush=True)
        second = next(stream).token
        stream.cancel()
        self.assertEqual((second.app_id, second.platform_id), (corp_id, SUITE))
        self.assertGreater(second.version, first.version)
        self.assertNotEqual(second.access_token, first.access_token)
        self.assertEqual(self.corp_token(corp_id).access_token, second.access_token)
        print(f"ROTATED {second.version}", flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
