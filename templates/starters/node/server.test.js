const test = require("node:test");
const assert = require("node:assert");
const { createServer } = require("./server");

test("greeting", async (t) => {
  const server = createServer("hi there");
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  const res = await fetch(`http://127.0.0.1:${server.address().port}/`);
  assert.strictEqual(await res.text(), "hi there\n");
});

// Checks the app that `berth test tests` starts beside the tests.
test("running app", { skip: !process.env.APP_URL && "APP_URL not set: no running app to test" }, async () => {
  const res = await fetch(`${process.env.APP_URL}/healthz`);
  assert.strictEqual((await res.text()).trim(), "ok");
});
