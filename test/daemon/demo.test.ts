import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { afterEach, expect, it } from "vitest";
import { type DaemonProcess, startDaemon } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";

let demo: DaemonProcess | undefined;

afterEach(async () => {
  if (demo && demo.child.exitCode === null) demo.child.kill("SIGINT");
  await demo?.exited;
});

it("agentpool demo: two agents answer, an edit reloads, Ctrl-C cleans up", async () => {
  demo = startDaemon(["demo"]);
  await demo.waitForLog((l) => l.msg === "ready");
  await demo.waitForLog((l) => l.msg === "containers on agent" && l.agent === "demo-web");
  const configPath = /config:\s+(\S+)/.exec(demo.stderr())?.[1];
  expect(configPath).toBeDefined();
  const root = configPath?.replace(/\/config\/config\.yml$/, "") as string;

  // The status page's address is printed, and it serves the page.
  const pageUrl = /Status page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(demo.stderr())?.[1];
  expect(pageUrl).toBeDefined();
  const page = await fetch(pageUrl as string);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(await page.text()).toContain("<title>agentpool status</title>");

  // The edit a user would try first: rename an agent.
  const text = await readFile(configPath as string, "utf8");
  await writeFile(configPath as string, text.replace("name: demo-web", "name: renamed-web"));
  await demo.waitForLog((l) => l.result === "success" && l.cause === "file" && l.changed === 1);
  await demo.waitForLog((l) => l.msg === "containers on agent" && l.agent === "renamed-web");

  demo.child.kill("SIGINT");
  expect(await demo.exited).toBe(0);
  await waitFor("the demo folder to be removed", () => !existsSync(root), 5_000);
});
