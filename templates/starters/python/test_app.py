import os
import threading
import unittest
import urllib.request
from http.server import ThreadingHTTPServer

from app import make_handler


def get(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


class GreetingTest(unittest.TestCase):
    def test_greeting(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler("hi there"))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.assertEqual(get(f"http://127.0.0.1:{server.server_port}/"), "hi there\n")


@unittest.skipUnless(os.environ.get("APP_URL"), "APP_URL not set: no running app to test")
class RunningAppTest(unittest.TestCase):
    """Checks the app that `berth test tests` starts beside the tests."""

    def test_healthz(self):
        self.assertEqual(get(os.environ["APP_URL"] + "/healthz").strip(), "ok")


if __name__ == "__main__":
    unittest.main()
