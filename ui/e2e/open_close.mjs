// The browser's cost to one tests/ui script, for bench/ui_browser_start.py: a context and a
// page, about:blank, closed; prints the time from after its imports to the end. With COOPS_UI_BROWSER_WS it connects to that chromium (as the
// tests do now), else it starts its own (as each of them did).
import { chromium } from "playwright-core";
import { LAUNCH } from "./launch.mjs";

const shared = process.env.COOPS_UI_BROWSER_WS;
const start = performance.now(); // after the import of playwright-core, which is timed apart
const browser = shared ? await chromium.connect(shared) : await chromium.launch(LAUNCH);
const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
const page = await context.newPage();
await page.goto("about:blank");
await context.close();
await browser.close();
process.stdout.write(JSON.stringify({ browserMs: performance.now() - start }) + "\n");
