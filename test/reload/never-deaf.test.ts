// Every change of the shape of the watched chain — config.yml, the links and
// folders on the way to it, its TLS files and bundles — followed by every
// ordinary save and a TLS rotation. Each transition runs in its own temp
// folder, side by side with the others.
import { chmod, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, it } from "vitest";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { sleep } from "../support/wait.js";
import {
  applied,
  BUNDLE_AGENT,
  bundleBytes,
  closeScene,
  configText,
  createScene,
  everySave,
  freshPki,
  nextName,
  pemPaths,
  put,
  rejected,
  rotate,
  type Scene,
  swapLink,
  until,
  watch,
  writePems,
} from "./chain.js";

/**
 * One change of the chain's shape. It ends with the config naming `name`
 * (so the test can see it applied), unless it returns its own check.
 */
type Step = (s: Scene, name: string) => Promise<unknown>;

interface Transition {
  /** Lays out the files; the default is a regular conf/config.yml. */
  layout?: (s: Scene, name: string) => Promise<void>;
  /** The first load is expected to fail (the config is not there yet). */
  startsMissing?: boolean;
  steps: Step[];
}

const configMap = async (s: Scene, name: string) => {
  const volume = join(s.root, "conf");
  await put(join(volume, "..t1", "config.yml"), configText(s, name));
  await symlink("..t1", join(volume, "..data"));
  await symlink("..data/config.yml", join(volume, "config.yml"));
};

const regular = (s: Scene, name: string) => put(s.configPath, configText(s, name));

/** A step that swaps the TLS material to a new folder of PEMs and checks the agent changed. */
const tlsChanged = (s: Scene) => {
  const from = s.snapshots.length;
  return () => s.snapshots.slice(from).some((snap) => snap.changed.length > 0);
};

const TRANSITIONS: Record<string, Transition> = {
  "a ConfigMap-layout config.yml replaced by a regular file by rename (old target kept) left the watcher deaf":
    {
      layout: configMap,
      steps: [
        async (s, name) => {
          await writeFile(join(s.root, "conf", "new"), configText(s, name));
          await rename(join(s.root, "conf", "new"), s.configPath);
        },
      ],
    },
  "symlink → regular file, old target removed": {
    layout: configMap,
    steps: [
      async (s, name) => {
        await writeFile(join(s.root, "conf", "new"), configText(s, name));
        await rename(join(s.root, "conf", "new"), s.configPath);
        await rm(join(s.root, "conf", "..data"));
        await rm(join(s.root, "conf", "..t1"), { recursive: true });
      },
    ],
  },
  "regular file → symlink": {
    steps: [
      async (s, name) => {
        await put(join(s.root, "elsewhere", "config.yml"), configText(s, name));
        await swapLink(join(s.root, "elsewhere", "config.yml"), s.configPath);
      },
    ],
  },
  "chain of 0 → 1 → 3 → 0 hops": {
    steps: [
      async (s, name) => {
        await put(join(s.root, "h1", "config.yml"), configText(s, name));
        await swapLink(join(s.root, "h1", "config.yml"), s.configPath);
      },
      async (s, name) => {
        await put(join(s.root, "h3c", "config.yml"), configText(s, name));
        await mkdir(join(s.root, "h3b"));
        await mkdir(join(s.root, "h3a"));
        await symlink("../h3c/config.yml", join(s.root, "h3b", "config.yml"));
        await symlink(join(s.root, "h3b", "config.yml"), join(s.root, "h3a", "config.yml"));
        await swapLink("../h3a/config.yml", s.configPath);
      },
      async (s, name) => {
        await writeFile(join(s.root, "conf", "new"), configText(s, name));
        await rename(join(s.root, "conf", "new"), s.configPath);
      },
    ],
  },
  "Kubernetes ..data swap, old folder kept": {
    layout: configMap,
    steps: [
      async (s, name) => {
        await put(join(s.root, "conf", "..t2", "config.yml"), configText(s, name));
        await swapLink("..t2", join(s.root, "conf", "..data"));
      },
    ],
  },
  "Kubernetes ..data swap, old folder removed": {
    layout: configMap,
    steps: [
      async (s, name) => {
        await put(join(s.root, "conf", "..t2", "config.yml"), configText(s, name));
        await swapLink("..t2", join(s.root, "conf", "..data"));
        await rm(join(s.root, "conf", "..t1"), { recursive: true });
      },
    ],
  },
  "the config's folder is a symlink swapped to another folder, and back": {
    layout: async (s, name) => {
      await put(join(s.root, "confA", "config.yml"), configText(s, name));
      await symlink("confA", join(s.root, "conf"));
    },
    steps: [
      async (s, name) => {
        await put(join(s.root, "confB", "config.yml"), configText(s, name));
        await swapLink("confB", join(s.root, "conf"));
      },
      async (s, name) => {
        await put(join(s.root, "confA", "config.yml"), configText(s, name));
        await swapLink("confA", join(s.root, "conf"));
      },
    ],
  },
  "the config's folder deleted and recreated quickly": {
    steps: [
      async (s, name) => {
        await rm(join(s.root, "conf"), { recursive: true });
        await mkdir(join(s.root, "conf"));
        await writeFile(s.configPath, configText(s, name));
      },
    ],
  },
  "the config's folder deleted and recreated slowly": {
    steps: [
      async (s, name) => {
        const from = s.results.length;
        await rm(join(s.root, "conf"), { recursive: true });
        await rejected(s, from);
        await sleep(200);
        await mkdir(join(s.root, "conf"));
        await sleep(200);
        await writeFile(s.configPath, configText(s, name));
      },
    ],
  },
  "the config's folder replaced by mv": {
    steps: [
      async (s, name) => {
        await put(join(s.root, "conf.new", "config.yml"), configText(s, name));
        await rename(join(s.root, "conf"), join(s.root, "conf.trash"));
        await rename(join(s.root, "conf.new"), join(s.root, "conf"));
        await rm(join(s.root, "conf.trash"), { recursive: true });
      },
    ],
  },
  "the config's folder renamed away and back": {
    steps: [
      async (s, name) => {
        const from = s.results.length;
        await rename(join(s.root, "conf"), join(s.root, "conf.away"));
        await rejected(s, from);
        await writeFile(join(s.root, "conf.away", "config.yml"), configText(s, name));
        await rename(join(s.root, "conf.away"), join(s.root, "conf"));
      },
    ],
  },
  "the config's folder moved away and a new one made": {
    steps: [
      async (s, name) => {
        await rename(join(s.root, "conf"), join(s.root, "conf.old"));
        await mkdir(join(s.root, "conf"));
        await writeFile(s.configPath, configText(s, name));
      },
    ],
  },
  "the config's folder's permissions flipped 000 → 755": {
    steps: [
      async (s, name) => {
        await chmod(join(s.root, "conf"), 0o000);
        await sleep(150);
        await chmod(join(s.root, "conf"), 0o755);
        await writeFile(s.configPath, configText(s, name));
      },
    ],
  },
  "a missing config folder that appears later": {
    startsMissing: true,
    layout: async (s) => {
      s.configPath = join(s.root, "late", "deep", "config.yml");
    },
    steps: [async (s, name) => put(s.configPath, configText(s, name))],
  },
  "TLS files through a folder symlink that is swapped": {
    layout: async (s, name) => {
      await symlink(join(s.root, "tls", "v1"), join(s.root, "tls", "cur"));
      s.tls = pemPaths(join(s.root, "tls", "cur"));
      await regular(s, name);
    },
    steps: [
      async (s) => {
        const check = tlsChanged(s);
        await writePems(join(s.root, "tls", "v2"), freshPki(s, "files"));
        await swapLink(join(s.root, "tls", "v2"), join(s.root, "tls", "cur"));
        return check;
      },
    ],
  },
  "TLS files that are each a symlink, swapped": {
    layout: async (s, name) => {
      await mkdir(join(s.root, "tls", "links"));
      for (const f of ["ca.pem", "cert.pem", "key.pem"])
        await symlink(`../v1/${f}`, join(s.root, "tls", "links", f));
      s.tls = pemPaths(join(s.root, "tls", "links"));
      await regular(s, name);
    },
    steps: [
      async (s) => {
        const check = tlsChanged(s);
        await writePems(join(s.root, "tls", "v2"), freshPki(s, "files"));
        for (const f of ["key.pem", "cert.pem", "ca.pem"])
          await swapLink(`../v2/${f}`, join(s.root, "tls", "links", f));
        return check;
      },
    ],
  },
  "a GoDoxy bundle through a symlink that is swapped": {
    layout: async (s, name) => {
      s.certsDir = join(s.root, "certs");
      await put(join(s.root, "bundles", "v1.zip"), bundleBytes(s.pkis[0] as TestPki));
      await mkdir(s.certsDir);
      await symlink("../bundles/v1.zip", join(s.certsDir, `${BUNDLE_AGENT}.zip`));
      await regular(s, name);
    },
    steps: [
      async (s) => {
        const check = tlsChanged(s);
        await put(join(s.root, "bundles", "v2.zip"), bundleBytes(freshPki(s, "bundle")));
        await swapLink("../bundles/v2.zip", join(s.certsDir as string, `${BUNDLE_AGENT}.zip`));
        return check;
      },
    ],
  },
  "the certs dir is a symlink that is swapped": {
    layout: async (s, name) => {
      s.certsDir = join(s.root, "certs");
      await put(join(s.root, "certs.v1", `${BUNDLE_AGENT}.zip`), bundleBytes(s.pkis[0] as TestPki));
      await symlink("certs.v1", s.certsDir);
      await regular(s, name);
    },
    steps: [
      async (s) => {
        const check = tlsChanged(s);
        await put(
          join(s.root, "certs.v2", `${BUNDLE_AGENT}.zip`),
          bundleBytes(freshPki(s, "bundle")),
        );
        await swapLink("certs.v2", s.certsDir as string);
        return check;
      },
    ],
  },
  "the TLS folder deleted and recreated": {
    steps: [
      async (s) => {
        const check = tlsChanged(s);
        await rm(join(s.root, "tls", "v1"), { recursive: true });
        await sleep(50);
        await writePems(join(s.root, "tls", "v1"), freshPki(s, "files"));
        return check;
      },
    ],
  },
  "the certs dir deleted and recreated": {
    layout: async (s, name) => {
      s.certsDir = join(s.root, "certs");
      await put(join(s.certsDir, `${BUNDLE_AGENT}.zip`), bundleBytes(s.pkis[0] as TestPki));
      await regular(s, name);
    },
    steps: [
      async (s) => {
        const check = tlsChanged(s);
        await rm(s.certsDir as string, { recursive: true });
        await sleep(50);
        await put(
          join(s.certsDir as string, `${BUNDLE_AGENT}.zip`),
          bundleBytes(freshPki(s, "bundle")),
        );
        return check;
      },
    ],
  },
  "a mistyped TLS folder, then corrected": {
    steps: [
      async (s, name) => {
        const from = s.results.length;
        const typo = pemPaths(join(s.root, "tsl", "v1"));
        await writeFile(s.configPath, configText(s, `${name}-typo`, typo));
        await rejected(s, from);
        await writeFile(s.configPath, configText(s, name));
      },
    ],
  },
};

let pkis: TestPki[];
beforeAll(async () => {
  pkis = await Promise.all([createTestPki(), createTestPki()]);
});

describe.concurrent("the watcher follows every change of the chain's shape", () => {
  for (const [title, transition] of Object.entries(TRANSITIONS)) {
    it(title, async () => {
      const s = await createScene(pkis);
      try {
        const first = nextName(s);
        await (transition.layout ?? regular)(s, first);
        await watch(s, first, transition.startsMissing);
        if (!transition.startsMissing) {
          await everySave(s);
          await rotate(s);
        }
        for (const step of transition.steps) {
          const name = nextName(s);
          const check = await step(s, name);
          if (typeof check === "function") await until(s, check as () => boolean, "the transition");
          else await applied(s, name);
          await everySave(s);
          await rotate(s);
        }
      } finally {
        await closeScene(s);
      }
    }, 60_000);
  }
});
