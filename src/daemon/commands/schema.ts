import { parseArgs } from "node:util";
import { configJsonSchema } from "../../config/schema.js";
import { type CommandIo, isUsageError, usageError } from "./io.js";

const SCHEMA_USAGE = `Usage: agentpool schema

Prints the JSON Schema of config.yml. Save it next to config.yml and start the
file with "# yaml-language-server: $schema=./agentpool.schema.json" so editors
check it as you type.
`;

/** `agentpool schema`: prints the JSON Schema of config.yml. Returns the exit status. */
export async function schemaCommand(argv: string[], io: CommandIo): Promise<number> {
  let help: boolean | undefined;
  try {
    ({
      values: { help },
    } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    if (isUsageError(err)) return usageError(io, "agentpool", err.message, SCHEMA_USAGE);
    throw err;
  }
  if (help) {
    io.stdout.write(SCHEMA_USAGE);
    return 0;
  }
  io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
