import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATUS_PAGE_CSP } from "../../src/daemon/status/page/route.js";
import { startTestAgent, type TestAgent } from "../../src/testing/index.js";
import { type DaemonProcess, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";
import { httpGet } from "./helpers.js";

/** Debian's chromium, driven by playwright-core (which brings no browser of its own). */
const CHROMIUM = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).stdout.trim();
if (!CHROMIUM)
  console.log("skip: chromium is not on PATH; the status page browser tests do not run");

/** Screenshots for CI to keep; the folder is git-ignored. */
const ARTIFACTS = fileURLToPath(new URL("../../artifacts/", import.meta.url));

// A name that would run script if it ever reached the page as markup.
const HOSTILE_NAME = "<img src=x onerror=window.__injected=1>";

describe.skipIf(!CHROMIUM)("status page in a real browser (skipped: no chromium on PATH)", () => {
  let ws: Workspace;
  let agents: TestAgent[];
  let daemon: DaemonProcess;
  let address: string;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const pageErrors: string[] = [];
  const cspMessages: string[] = [];

  async function startOn(listen: string): Promise<void> {
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", listen, "--log-format", "json"]);
    const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000);
    address = String(listening.address);
    await daemon.waitForLog((l) => l.msg === "ready", 15_000);
  }

  const rows = () => page.locator("#agents tbody tr");
  // Polled from here: page.waitForFunction would evaluate in the page, which its CSP forbids.
  const liveState = () => page.locator("#live").getAttribute("data-state");

  beforeAll(async () => {
    requireBuiltCli();
    ws = await createWorkspace("agentpool-page-");
    agents = await Promise.all(
      ["page-a", "page-b"].map((name) =>
        startTestAgent({ pki: ws.pki, name, version: `${name}-v7`, runtime: "podman" }),
      ),
    );
    const [a, b] = agents as [TestAgent, TestAgent];
    await writeFile(
      ws.configPath,
      ws.yaml([
        { addr: a.addr, name: "edge-a" },
        { addr: b.addr, name: `'${HOSTILE_NAME}'` },
        // Nothing listens on port 1: its probe fails with a classified error.
        { addr: "127.0.0.1:1", name: "edge-down" },
      ]),
    );
    await startOn("127.0.0.1:0");

    userDataDir = await mkdtemp(join(tmpdir(), "agentpool-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
      viewport: { width: 1100, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) cspMessages.push(message.text());
    });
    // Runs before the page's own script; CSP does not apply to what the test injects this way.
    await context.addInitScript(`
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        window.__violations.push(e.violatedDirective + " " + e.blockedURI));
    `);
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await daemon?.stop();
    await Promise.all((agents ?? []).map((a) => a.close()));
    await ws?.cleanup();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it("lists the agents with their /info, the probe error, the snapshot and the last reload", async () => {
    const response = await page.goto(`http://${address}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toBe(STATUS_PAGE_CSP);
    await expect.poll(liveState, { timeout: 15_000 }).toBe("live");
    await expect.poll(() => rows().count(), { timeout: 15_000 }).toBe(3);
    const row = (name: string) => rows().filter({ hasText: name });
    // Both live agents probed, the dead one classified.
    await expect
      .poll(() => row("edge-a").textContent(), { timeout: 15_000 })
      .toMatch(/page-a-v7.*podman.*answering/);
    await expect
      .poll(() => row("edge-down").textContent(), { timeout: 15_000 })
      .toMatch(/failing · ERR_AGENT_REQUEST.*ECONNREFUSED/);
    expect(await row(HOSTILE_NAME).locator("strong").textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator("#version").textContent()).toBe("1");
    expect(await page.locator("#agent-count").textContent()).toBe("3");
    expect(await page.locator("#config-path").textContent()).toBe(ws.configPath);
    expect(await page.locator("#last-reload").textContent()).toMatch(/^ok at /);
    expect(await page.locator("#history tbody tr").first().textContent()).toMatch(
      /initial.*ok.*\+3 −0 ~0.*snapshot 1/,
    );
    expect(await page.locator("#reload-error").isHidden()).toBe(true);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({
      path: join(ARTIFACTS, "status-page-first-load.png"),
      fullPage: true,
      animations: "disabled",
    });
  }, 60_000);

  it("escapes text from the config: an agent named like markup stays text", async () => {
    expect(await page.evaluate("window.__injected")).toBe(undefined);
    expect(await page.locator("#agents img").count()).toBe(0);
  });

  it("runs under a strict CSP: only its own script runs, no violations of its own", async () => {
    // The page's script and style sheet load from its own origin without a violation ...
    expect(await page.evaluate("window.__violations")).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(cspMessages).toEqual([]);
    // ... and an inline script is refused (so the CSP is really in force).
    await page.evaluate(`{
      const script = document.createElement("script");
      script.textContent = "window.__inline = 1";
      document.head.append(script);
    }`);
    expect(await page.evaluate("window.__inline")).toBe(undefined);
    await expect
      .poll(() => page.evaluate("window.__violations"))
      .toEqual([expect.stringMatching(/^script-src/)]);
    await page.evaluate("window.__violations.length = 0");
    cspMessages.length = 0;
  });

  it("shows a file edit without a page reload", async () => {
    await page.evaluate("window.__sameDocument = true");
    const [a] = agents as [TestAgent];
    // Rename edge-a, drop the other two.
    await writeFile(ws.configPath, ws.yaml([{ addr: a.addr, name: "edge-a-renamed" }]));
    await expect
      .poll(() => rows().allTextContents(), { timeout: 15_000 })
      .toEqual([expect.stringMatching(/^edge-a-renamed/)]);
    expect(await page.locator("#version").textContent()).toBe("2");
    expect(await page.locator("#history tbody tr").first().textContent()).toMatch(
      /file.*ok.*\+0 −2 ~1.*snapshot 2/,
    );
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
  }, 60_000);

  it("shows a bad edit's located error, and keeps listing the agents still served", async () => {
    await writeFile(
      ws.configPath,
      'providers:\n  agents:\n    - addr: "<b>not-an-addr</b>"\n      tls: {}\n',
    );
    const box = page.locator("#reload-error");
    await box.waitFor({ state: "visible", timeout: 15_000 });
    const text = await page.locator("#reload-error-text").textContent();
    expect(text).toContain(`${ws.configPath}:3:13: providers.agents[0].addr:`);
    expect(text).toContain('"<b>not-an-addr</b>" is not host:port');
    expect(await box.locator("b").count()).toBe(0);
    expect(await page.locator("#reload-error-note").textContent()).toMatch(/snapshot 2/);
    expect(await page.locator("#last-reload").textContent()).toMatch(/^rejected at /);
    expect(await page.locator("#history tbody tr").first().textContent()).toMatch(
      /file.*rejected.*ERR_CONFIG_INVALID.*:3:13: providers\.agents\[0\]\.addr: .*\(\+3 more\)$/,
    );
    expect(await rows().allTextContents()).toEqual([expect.stringMatching(/^edge-a-renamed/)]);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({
      path: join(ARTIFACTS, "status-page-error.png"),
      fullPage: true,
      animations: "disabled",
    });
  }, 60_000);

  it("reconnects after the daemon restarts, still without a page reload", async () => {
    const port = address.slice(address.lastIndexOf(":") + 1);
    expect(await daemon.stop()).toBe(0);
    await expect.poll(liveState, { timeout: 15_000 }).toBe("offline");
    expect(await page.locator("#live-text").textContent()).toMatch(/reconnecting|unreachable/);

    const [a, b] = agents as [TestAgent, TestAgent];
    await writeFile(
      ws.configPath,
      ws.yaml([
        { addr: a.addr, name: "edge-a" },
        { addr: b.addr, name: "edge-b" },
      ]),
    );
    await startOn(`127.0.0.1:${port}`);
    await expect.poll(liveState, { timeout: 20_000 }).toBe("live");
    await expect.poll(() => rows().count(), { timeout: 15_000 }).toBe(2);
    await expect
      .poll(() => rows().allTextContents(), { timeout: 15_000 })
      .toEqual([
        expect.stringMatching(/^edge-a.*page-a-v7.*answering/),
        expect.stringMatching(/^edge-b.*page-b-v7.*answering/),
      ]);
    expect(await page.locator("#reload-error").isHidden()).toBe(true);
    expect(await page.locator("#version").textContent()).toBe("1");
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    expect(pageErrors).toEqual([]);

    await page.screenshot({
      path: join(ARTIFACTS, "status-page.png"),
      fullPage: true,
      animations: "disabled",
    });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: join(ARTIFACTS, "status-page-phone.png"),
      fullPage: true,
      animations: "disabled",
    });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({
      path: join(ARTIFACTS, "status-page-phone-dark.png"),
      fullPage: true,
      animations: "disabled",
    });
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 1100, height: 900 });
  }, 60_000);

  it("serves the page, its script and style sheet with the CSP, GET and HEAD only", async () => {
    for (const path of ["/", "/page.js", "/page.css", "/favicon.svg"]) {
      const res = await httpGet(address, path);
      expect(res.status, path).toBe(200);
      expect(res.headers["content-security-policy"], path).toBe(STATUS_PAGE_CSP);
      expect(res.headers["x-content-type-options"], path).toBe("nosniff");
    }
    const html = await httpGet(address, "/");
    expect(html.headers["content-type"]).toBe("text/html; charset=utf-8");
    // No external resources: every src and href is a same-origin path.
    const urls = [...html.body.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThan(3);
    for (const url of urls) expect(url).toMatch(/^\/[a-z.]*$/);
    expect((await httpGet(address, "/", "HEAD")).body).toBe("");
    expect((await httpGet(address, "/", "POST")).status).toBe(405);
  });
});
