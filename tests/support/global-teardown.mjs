// Jest global teardown: stop the embedded test server, if global-setup started one.
import fs from "node:fs";

export default async function globalTeardown() {
  const started = globalThis.__waypointEmbedded;
  if (!started) return;
  started.server.release();
  fs.rmSync(started.dir, { recursive: true, force: true });
}
