"""A small web service: a greeting at /, and "ok" at /healthz."""

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(greeting):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/":
                self.reply(200, greeting)
            elif self.path == "/healthz":
                self.reply(200, "ok")
            else:
                self.reply(404, "not found")

        def reply(self, status, text):
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main():
    port = int(os.environ.get("PORT", "8000"))
    greeting = os.environ.get("GREETING", "Hello from berth")
    server = ThreadingHTTPServer(("", port), make_handler(greeting))
    print(f"listening on :{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
