// The reproduction, through the real daemon: a ConfigMap-layout
// config.yml replaced by a regular file by rename, then every ordinary save
// and a TLS rotation. The resync is off, so only the watcher can see them.
import { execFileSync } from "node:child_process";
import { mkdir, rename, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, expect, it } from "vitest";
import { createTestPki } from "../../src/testing/index.js";
import { type DaemonProcess, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

let ws: Workspace;
let daemon: DaemonProcess | undefined;

beforeAll(() => {
  requireBuiltCli();
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await ws?.cleanup();
});

it("a ConfigMap-layout config.yml replaced by a regular file by rename no longer leaves the daemon deaf", async () => {
  ws = await createWorkspace("agentpool-deaf-");
  const conf = join(ws.dir, "conf");
  const text = (name: string) =>
    ws.yaml([{ addr: "10.0.0.1:8890", name }]).replaceAll("tls/", `${ws.dir}/tls/`);
  await mkdir(join(conf, "..t1"), { recursive: true });
  await writeFile(join(conf, "..t1", "config.yml"), text("v1"));
  await symlink("..t1", join(conf, "..data"));
  await symlink("..data/config.yml", join(conf, "config.yml"));
  const configPath = join(conf, "config.yml");
  daemon = startDaemon(["run", "-c", configPath, "--listen", "off", "--resync", "0"]);
  await daemon.waitForLog((l) => l.msg === "ready");
  const running = daemon;
  // A rename of the one agent is a reload with changed = 1, logged after `from`.
  const renamedSince = (from: number) =>
    running.waitForLog(
      (l) =>
        running.logs.indexOf(l) >= from &&
        l.msg === "config loaded" &&
        l.cause === "file" &&
        l.changed === 1,
    );

  // The transition: write a temp file, rename it over the symlink; ..t1 stays.
  let from = running.logs.length;
  await writeFile(join(conf, "new"), text("v2"));
  await rename(join(conf, "new"), configPath);
  await renamedSince(from);

  const saves: Array<[string, (name: string) => Promise<void>]> = [
    ["in place", (name) => writeFile(configPath, text(name), { flag: "r+" })],
    [
      "rename",
      async (name) => {
        await writeFile(`${configPath}.tmp`, text(name));
        await rename(`${configPath}.tmp`, configPath);
      },
    ],
    [
      "sed -i",
      async (name) => {
        execFileSync("sed", ["-i", `s/name: .*/name: ${name}/`, configPath]);
      },
    ],
    [
      "vim",
      async (name) => {
        await rename(configPath, `${configPath}~`);
        await writeFile(configPath, text(name));
        await unlink(`${configPath}~`);
      },
    ],
    [
      "delete, then recreate",
      async (name) => {
        await unlink(configPath);
        await writeFile(configPath, text(name));
      },
    ],
  ];
  for (const [i, [how, save]] of saves.entries()) {
    from = running.logs.length;
    await save(`s${i}`);
    await renamedSince(from).catch((err: Error) => {
      throw new Error(`${how}: ${err.message}`);
    });
  }

  from = running.logs.length;
  const rotated = await createTestPki();
  await ws.writeTls("next", rotated);
  for (const file of ["key.pem", "cert.pem", "ca.pem"])
    await rename(join(ws.dir, "tls", "next", file), join(ws.dir, "tls", "main", file));
  const rotation = await renamedSince(from);
  expect(rotation).toMatchObject({ agents: 1, added: 0, removed: 0 });
});
