// A scene for the "never deaf" tests: a config and its TLS material laid out
// in a temp folder, watched by the real watchConfig, plus the ordinary saves
// and the TLS rotation every change of the chain's shape must be followed by.
import { execFileSync } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  open,
  readFile,
  realpath,
  rename,
  rm,
  symlink,
  truncate,
  unlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { zipSync } from "fflate";
import { AgentPool, type PoolSnapshot } from "../../src/index.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { type ConfigWatcher, watchConfig } from "../../src/reload/watch-config.js";
import type { TestPki } from "../../src/testing/index.js";
import { sleep, waitFor } from "../support/wait.js";

/** The object-form agent (its name is the marker each save changes). */
export const FILE_AGENT = "10.0.0.1:8890";
/** The GoDoxy string-form agent, when the scene has a bundle. */
export const BUNDLE_AGENT = "10.0.0.2:8890";

export interface Scene {
  root: string;
  pool: AgentPool;
  watcher: ConfigWatcher | undefined;
  results: ReloadResult[];
  snapshots: PoolSnapshot[];
  /** The path given to watchConfig (may run through symlinks). */
  configPath: string;
  /** The TLS file paths written into the config (may run through symlinks). */
  tls: { ca: string; cert: string; key: string };
  /** Set when the config lists the bundle agent. */
  certsDir?: string;
  /** Every name the config ever had; the next one is unique. */
  saves: number;
  /** How often the file agent's and the bundle's material were replaced. */
  rotations: { files: number; bundle: number };
  pkis: readonly TestPki[];
}

export async function createScene(pkis: readonly TestPki[]): Promise<Scene> {
  const root = await mkdtemp(join(tmpdir(), "agentpool-chain-"));
  const scene: Scene = {
    root,
    pool: new AgentPool(),
    watcher: undefined,
    results: [],
    snapshots: [],
    configPath: join(root, "conf", "config.yml"),
    tls: pemPaths(join(root, "tls", "v1")),
    saves: 0,
    rotations: { files: 0, bundle: 0 },
    pkis,
  };
  await writePems(join(root, "tls", "v1"), pkis[0] as TestPki);
  return scene;
}

export function pemPaths(dir: string) {
  return { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

export async function writePems(dir: string, pki: TestPki): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "ca.pem"), pki.ca.cert);
  await writeFile(join(dir, "cert.pem"), pki.client.cert);
  await writeFile(join(dir, "key.pem"), pki.client.key, { mode: 0o600 });
}

export function bundleBytes(pki: TestPki): Uint8Array {
  const text = new TextEncoder();
  return zipSync({
    "ca.pem": text.encode(pki.ca.cert),
    "cert.pem": text.encode(pki.client.cert),
    "key.pem": text.encode(pki.client.key),
  });
}

/** A unique agent name for the next save. */
export function nextName(scene: Scene): string {
  scene.saves += 1;
  return `save-${scene.saves}`;
}

/** The config text naming the file agent `name`. */
export function configText(scene: Scene, name: string, tls = scene.tls): string {
  const lines = [
    "providers:",
    "  agents:",
    `    - addr: "${FILE_AGENT}"`,
    `      name: ${name}`,
    "      tls:",
    `        ca_file: ${tls.ca}`,
    `        cert_file: ${tls.cert}`,
    `        key_file: ${tls.key}`,
  ];
  if (scene.certsDir) lines.push(`    - "${BUNDLE_AGENT}"`);
  return `${lines.join("\n")}\n`;
}

/** Writes a file, creating its folder. */
export async function put(path: string, text: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** Replaces `path` (a file, a link or a folder) by a new symlink to `target`, atomically. */
export async function swapLink(target: string, path: string): Promise<void> {
  const tmp = `${path}.tmp-link`;
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, path);
}

/** Starts watching; a scene may start on a config that is not there yet. */
export async function watch(scene: Scene, first: string, mayFail = false): Promise<void> {
  scene.watcher = watchConfig(scene.pool, {
    configPath: scene.configPath,
    // The watcher alone must keep up: the safety net would hide a deaf one.
    resyncMs: 0,
    ...(scene.certsDir ? { certsDir: scene.certsDir } : {}),
  });
  scene.watcher.results$.subscribe((r) => scene.results.push(r));
  scene.pool.snapshots$.subscribe((s) => scene.snapshots.push(s));
  if (mayFail) await scene.watcher.ready.catch(() => {});
  else {
    await scene.watcher.ready;
    await until(scene, () => scene.pool.getAgent(first) !== undefined, `agent ${first}`);
  }
}

export async function closeScene(scene: Scene): Promise<void> {
  await scene.watcher?.close();
  await Promise.all(scene.pool.list().map((a) => a.close()));
  await rm(scene.root, { recursive: true, force: true });
}

/**
 * Waits for `check`; a correctness guard, not a timing goal. The bound is
 * generous because these scenes run side by side on a shared machine.
 */
export async function until(scene: Scene, check: () => boolean, what: string): Promise<void> {
  await waitFor(what, check, 15_000).catch((err: Error) => {
    const last = scene.results.at(-1);
    throw new Error(
      `deaf: ${err.message}; last attempt: ${
        last ? (last.ok ? `ok v${last.version}` : last.error.message) : "none"
      }`,
    );
  });
}

export const applied = (scene: Scene, name: string) =>
  until(scene, () => scene.pool.getAgent(name) !== undefined, `the save naming ${name}`);

export const rejected = (scene: Scene, from: number) =>
  until(scene, () => scene.results.slice(from).some((r) => !r.ok), "a rejected attempt");

type Save = (scene: Scene, file: string, name: string) => Promise<void>;

/** Every ordinary way of saving a file, acting on the chain's real file of the moment. */
export const SAVES: ReadonlyArray<[string, Save]> = [
  [
    "in place",
    async (scene, file, name) => {
      const handle = await open(file, "r+");
      const text = configText(scene, name);
      await handle.write(text, 0);
      await handle.truncate(Buffer.byteLength(text));
      await handle.close();
    },
  ],
  [
    "truncate, then write",
    async (scene, file, name) => {
      await truncate(file, 0);
      await writeFile(file, configText(scene, name), { flag: "r+" });
    },
  ],
  [
    "rename over",
    async (scene, file, name) => {
      await writeFile(`${file}.tmp`, configText(scene, name));
      await rename(`${file}.tmp`, file);
    },
  ],
  [
    "sed -i",
    async (_scene, file, name) => {
      const current = /name: (\S+)/.exec(await readFile(file, "utf8"))?.[1];
      execFileSync("sed", ["-i", `s/name: ${current}$/name: ${name}/`, file]);
    },
  ],
  [
    "vim",
    async (scene, file, name) => {
      await rename(file, `${file}~`);
      await writeFile(file, configText(scene, name));
      await unlink(`${file}~`);
    },
  ],
  [
    "delete, then recreate",
    async (scene, file, name) => {
      await unlink(file);
      await sleep(20);
      await writeFile(file, configText(scene, name));
    },
  ],
];

/** Each ordinary save of config.yml, one after the other, each applied. */
export async function everySave(scene: Scene): Promise<void> {
  for (const [how, save] of SAVES) {
    const name = nextName(scene);
    await save(scene, await realpath(scene.configPath), name);
    await applied(scene, `${name}`).catch((err: Error) => {
      throw new Error(`${how}: ${err.message}`);
    });
  }
}

/** TLS material other than what the scene holds now. */
export function freshPki(scene: Scene, of: "files" | "bundle"): TestPki {
  scene.rotations[of] += 1;
  return scene.pkis[scene.rotations[of] % scene.pkis.length] as TestPki;
}

/**
 * Rotates the TLS material by renaming new files over the chain's real files
 * (and the bundle, if any), and waits until the agents using them changed.
 */
export async function rotate(scene: Scene): Promise<void> {
  const from = scene.snapshots.length;
  const rotated = (addr: string) =>
    scene.snapshots.slice(from).some((s) => s.changed.includes(addr));
  const pki = freshPki(scene, "files");
  const material = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
  for (const part of ["key", "cert", "ca"] as const) {
    const real = await realpath(scene.tls[part]);
    await writeFile(`${real}.new`, material[part], { mode: 0o600 });
    await rename(`${real}.new`, real);
  }
  if (scene.certsDir) {
    const real = await realpath(join(scene.certsDir, `${BUNDLE_AGENT}.zip`));
    await writeFile(`${real}.new`, bundleBytes(freshPki(scene, "bundle")));
    await rename(`${real}.new`, real);
  }
  await until(
    scene,
    () => rotated(FILE_AGENT) && (!scene.certsDir || rotated(BUNDLE_AGENT)),
    "the rotated TLS material",
  );
}
