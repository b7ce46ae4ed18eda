// Shared by the end-to-end scripts that tests/ui runs: Debian's chromium through npm's
// playwright-core. With COOPS_UI_BROWSER_WS (tests/ui's session browser, browser_server.mjs)
// a script connects to that chromium; without it (bench/ui_browser.py), it starts its own.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LAUNCH } from "./launch.mjs";

export const BASE = required("COOPS_UI_URL");
export const TOKEN = required("COOPS_UI_TOKEN");
const SHOTS = process.env.COOPS_UI_SCREENSHOTS ?? "";
const TIMEOUT = Number(process.env.COOPS_UI_TIMEOUT_MS ?? 30000);

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The session's browser (connected to) or a new one; a new context and page in it; every
 * console error and page error is kept in `problems`. */
export async function open() {
  const shared = process.env.COOPS_UI_BROWSER_WS;
  const browser = shared ? await chromium.connect(shared) : await chromium.launch(LAUNCH);
  const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return { browser, context, page, problems };
}

export async function signIn(page, path = "/runs") {
  await page.goto(BASE + path);
  await page.waitForURL((url) => url.pathname === "/login");
  await page.fill("#token", TOKEN);
  await page.click("button[type=submit]");
  await page.waitForURL((url) => url.pathname + url.search === path);
  await page.waitForSelector('[data-testid="who"]');
}

export async function screenshot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

export async function jobStatus(page, path) {
  return page.locator(`[data-job="${path}"]`).getAttribute("data-status");
}

/** Run `scenario(session)`; print its result as JSON, or the error, and exit accordingly. */
export async function main(scenario) {
  const session = await open();
  try {
    const result = await scenario(session);
    result.problems = session.problems;
    process.stdout.write(JSON.stringify(result) + "\n");
  } catch (error) {
    await screenshot(session.page, "failure").catch(() => {});
    process.stderr.write(`${error.stack ?? error}\nURL: ${session.page.url()}\nproblems: ${session.problems.join("\n")}\n`);
    process.exitCode = 1;
  } finally {
    await session.context.close().catch(() => {});
    await session.browser.close(); // a connected browser: only this script's connection ends
  }
}

/** axe-core's serious and critical violations on the page as it is: [{id, impact, nodes}].
 * The script is evaluated through the browser's protocol, which the page's CSP allows. */
export async function axeViolations(page) {
  const { readFileSync } = await import("node:fs");
  const { createRequire } = await import("node:module");
  const source = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(source);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}
