import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The image every container of the suite runs: a static busybox, imported locally. */
export const IMAGE = "localhost/agentpool-busybox:test";

/** podman's Docker-compatible API on a unix socket in a folder of its own. */
export interface PodmanService {
  readonly socketPath: string;
  /** Runs the podman CLI against the same storage. */
  podman(args: string[]): Promise<string>;
  /** Removes every container, stops the service (by its pid), deletes the folder. */
  close(): Promise<void>;
}

/**
 * Starts `podman system service` with its config, storage and runtime state
 * in a temporary folder (nothing global changes): runc, vfs storage, cgroupfs,
 * events in a file, no network namespace, ulimits this sandbox allows. Resolves
 * with `undefined` and a reason when podman cannot run here.
 */
export async function startPodman(): Promise<PodmanService | { skip: string }> {
  for (const tool of ["podman", "runc"]) {
    try {
      await run(tool, ["--version"]);
    } catch {
      return { skip: `${tool} is not on PATH` };
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "agentpool-podman-"));
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    CONTAINERS_CONF: join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
    XDG_RUNTIME_DIR: join(dir, "xdg"),
    XDG_CONFIG_HOME: join(dir, "config"),
    XDG_DATA_HOME: join(dir, "data"),
  };
  for (const sub of ["xdg", "config", "data"]) await mkdir(join(dir, sub), { mode: 0o700 });
  await writeFile(
    env.CONTAINERS_CONF,
    [
      "[containers]",
      'netns = "none"',
      'default_ulimits = ["nproc=1024:1024", "nofile=1024:1024"]',
      "[engine]",
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, "events.log")}"`,
      `tmp_dir = "${join(dir, "tmp")}"`,
      // File locks in tmp_dir, not the shared memory segment every root podman uses.
      'lock_type = "file"',
      "",
    ].join("\n"),
  );
  await writeFile(
    env.CONTAINERS_STORAGE_CONF,
    `[storage]\ndriver = "vfs"\nrunroot = "${join(dir, "run")}"\ngraphroot = "${join(dir, "root")}"\n`,
  );
  const podman = async (args: string[]) =>
    (await run("podman", args, { env, maxBuffer: 16 * 1024 * 1024 })).stdout;

  let service: ChildProcess | undefined;
  const close = async () => {
    await podman(["rm", "--all", "--force", "--time", "0"]).catch(() => "");
    if (service?.pid !== undefined && service.exitCode === null) {
      const exited = new Promise((resolve) => service?.once("exit", resolve));
      process.kill(service.pid, "SIGTERM");
      await exited;
    }
    await killLeftovers(dir);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const rootfs = join(dir, "rootfs");
    await mkdir(join(rootfs, "bin"), { recursive: true });
    await mkdir(join(rootfs, "tmp"), { recursive: true });
    await copyFile("/bin/busybox", join(rootfs, "bin", "busybox"));
    for (const applet of ["sh", "echo", "cat", "sleep", "head", "test", "true", "ls", "wc"])
      await symlink("busybox", join(rootfs, "bin", applet));
    await run("tar", ["-C", rootfs, "-cf", join(dir, "rootfs.tar"), "."]);
    await podman(["import", "--quiet", join(dir, "rootfs.tar"), IMAGE]);
    // A container must start: runc, cgroups and ulimits all work here.
    await podman(["run", "--rm", IMAGE, "/bin/true"]);

    const socketPath = join(dir, "podman.sock");
    service = spawn("podman", ["system", "service", "--time=0", `unix://${socketPath}`], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    service.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const deadline = Date.now() + 20_000;
    while (!(await ping(socketPath))) {
      if (service.exitCode !== null || Date.now() > deadline)
        throw new Error(`podman system service did not come up: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { socketPath, podman, close };
  } catch (err) {
    await close();
    const reason =
      err instanceof Error ? err.message.split("\n").slice(0, 3).join(" ") : String(err);
    return { skip: `podman cannot run containers here (${reason})` };
  }
}

/** conmon daemonizes itself: find the ones this service started (by their folder) and stop them by pid. */
async function killLeftovers(dir: string): Promise<void> {
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.includes(`${dir}/`)) continue;
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.end();
  });
}
