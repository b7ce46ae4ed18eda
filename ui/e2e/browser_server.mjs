// One chromium for a whole tests/ui session: started here as a playwright browser server,
// its endpoint printed on the first line; each test's script connects to it (browser.mjs,
// COOPS_UI_BROWSER_WS) with a context of its own, instead of starting a chromium of its
// own. It stops when its standard input closes (the session's end, or pytest's death).
import { chromium } from "playwright-core";
import { LAUNCH } from "./launch.mjs";

const server = await chromium.launchServer({ ...LAUNCH, headless: true });
process.stdout.write(server.wsEndpoint() + "\n");
process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await server.close();
  process.exit(0);
});
