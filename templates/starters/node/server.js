// A small web service: a greeting at /, and "ok" at /healthz.
const http = require("node:http");

function createServer(greeting) {
  return http.createServer((req, res) => {
    const reply = (status, text) => {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(text + "\n");
    };
    if (req.method === "GET" && req.url === "/") return reply(200, greeting);
    if (req.method === "GET" && req.url === "/healthz") return reply(200, "ok");
    reply(404, "not found");
  });
}

if (require.main === module) {
  const port = Number(process.env.PORT || 3000);
  const server = createServer(process.env.GREETING || "Hello from berth");
  server.listen(port, () => console.log(`listening on :${port}`));
  // A container's stop signal: close, then exit.
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

module.exports = { createServer };
