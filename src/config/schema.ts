import { z } from "zod";
import { explainAddr } from "./addr.js";
import { checkName, MAX_NAME_CHARS } from "./name.js";
import { containsPrivateKey, PRIVATE_KEY_MESSAGE } from "./secrets.js";

/*
 * The shape of config.yml, pure: no file access. The loader turns the issues
 * zod reports into located messages (see schema-issues.ts), so the messages
 * set here are only what a caller using the schema directly would see.
 *
 * Decisions:
 * - Top-level keys other than `providers`, and keys under `providers` other
 *   than `agents`, are ignored, so a whole GoDoxy config.yml loads.
 * - A missing `providers`, `providers:` with no value, or no `agents` key
 *   means zero agents: a GoDoxy config that lists no agents is valid.
 * - `agents:` written with no value (null) is an error: a half-deleted list
 *   must not silently empty the pool. `agents: []` says "none" on purpose.
 * - Inside an agent entry and inside `tls` every key is known, so a typo like
 *   `ca_fle` is an error rather than a silently missing file.
 */

/** Loose pattern for editors; `explainAddr` (via `parseAddr`) is the real judge. */
const ADDR_PATTERN =
  "^(?:\\[[0-9A-Za-z:.%]+\\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?):[0-9]{1,5}$";

/** `host:port` (hostname, IPv4 or `[IPv6]`, port 1–65535). */
export const AddrSchema = z
  .string()
  .check(
    z.superRefine((addr, ctx) => {
      if (containsPrivateKey(addr)) {
        ctx.addIssue({ code: "custom", message: PRIVATE_KEY_MESSAGE, input: "" });
        return;
      }
      const why = explainAddr(addr);
      if (why) ctx.addIssue({ code: "custom", message: why, input: addr });
    }),
  )
  .meta({
    description: "host:port of the agent: a hostname, an IPv4 address or [IPv6], port 1-65535.",
    pattern: ADDR_PATTERN,
    examples: ["agent.example.com:443", "10.0.0.5:8890", "[fd00::5]:8890"],
  });

/** Linux's PATH_MAX: the longest file path a config may name. */
export const MAX_PATH_CHARS = 4096;

const filePath = (what: string) =>
  z
    .string()
    .min(1)
    // A key pasted where its path belongs must not end up quoted in a
    // "cannot read <path>" message.
    .refine((path) => !containsPrivateKey(path), { message: PRIVATE_KEY_MESSAGE, abort: true })
    .refine((path) => !path.includes("-----BEGIN") && !path.includes("\n"), {
      message: "expected a file path, got PEM text; put it in a file and give that file's path",
    })
    .refine((path) => path.length <= MAX_PATH_CHARS, {
      message: `a file path of at most ${MAX_PATH_CHARS} characters`,
    })
    .refine((path) => !path.includes("\0"), {
      message: "a file path cannot contain a NUL character",
    })
    .meta({
      description: `Path of the ${what} (PEM). A relative path is resolved against the directory of config.yml.`,
    });

/** The `tls` block of an agent in object form: three PEM files. */
export const TlsFilesSchema = z
  .strictObject({
    ca_file: filePath("CA certificate(s) that signed the agent's server certificate"),
    cert_file: filePath("client certificate presented to the agent"),
    key_file: filePath("private key of the client certificate"),
  })
  .meta({ description: "PEM files for mutual TLS with this agent." });

/** An agent written out in full. */
export const AgentObjectSchema = z
  .strictObject({
    addr: AddrSchema,
    name: z
      .string()
      .min(1)
      // A name is shown in tables, logs and metric labels: one printable line.
      .check(
        z.superRefine((name, ctx) => {
          const why = checkName(name);
          if (why) ctx.addIssue({ code: "custom", message: why, input: "" });
        }),
      )
      .optional()
      .meta({
        description: `Name of the agent; defaults to addr. Printable text, at most ${MAX_NAME_CHARS} characters, no control or text-direction characters.`,
        maxLength: MAX_NAME_CHARS,
      }),
    tls: TlsFilesSchema,
  })
  .meta({ title: "Agent", description: "An agent with its own TLS files." });

/** GoDoxy's own form: just `host:port`; TLS comes from `<certs dir>/<addr>.zip`. */
export const AgentStringSchema = AddrSchema.meta({
  title: "GoDoxy agent",
  description:
    "GoDoxy's form: host:port of the agent. Its TLS bundle is <certs dir>/<host:port>.zip holding ca.pem, cert.pem and key.pem.",
  pattern: ADDR_PATTERN,
});

/** One entry of `providers.agents`. */
export const AgentEntrySchema = z.union([AgentStringSchema, AgentObjectSchema]);

export const AgentListSchema = z.array(AgentEntrySchema).meta({
  description:
    "The agents to keep in the pool. Write `agents: []` for none; `agents:` with no value is rejected.",
});

/** config.yml as a whole: only `providers.agents` is read, everything else is ignored. */
export const ConfigSchema = z
  .looseObject({
    providers: z
      .looseObject({ agents: AgentListSchema.optional() })
      .nullish()
      .meta({ description: "GoDoxy providers; agentpool reads only `agents`." }),
  })
  .meta({
    title: "agentpool config.yml",
    description:
      "The agents of an agentpool (a GoDoxy config.yml loads as is; keys other than providers.agents are ignored).",
  });

export type ConfigFile = z.infer<typeof ConfigSchema>;
export type AgentEntry = z.infer<typeof AgentEntrySchema>;
export type AgentObject = z.infer<typeof AgentObjectSchema>;

/** Keys an agent object may have, in the order messages list them. */
export const AGENT_KEYS: readonly string[] = Object.freeze(Object.keys(AgentObjectSchema.shape));
/** Keys a `tls` block may have, in the order messages list them. */
export const TLS_KEYS: readonly string[] = Object.freeze(Object.keys(TlsFilesSchema.shape));

/**
 * The JSON Schema of config.yml (draft-07, which editors' YAML plugins
 * understand best), for `agentpool schema`. Generated from {@link ConfigSchema},
 * so it cannot drift from what the loader accepts, except that it cannot
 * express the exact `host:port` rule (a pattern approximates it) nor the
 * checks that need files or the whole list (duplicates, TLS material).
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { target: "draft-07", io: "input" });
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    ...schema,
  };
}
