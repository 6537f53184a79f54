import { test } from "vitest";
import { configJsonSchema, ConfigSchema } from "../../src/config/schema.js";
test("x", () => {
  console.log(JSON.stringify(configJsonSchema(), null, 1));
  console.log(JSON.stringify(ConfigSchema.safeParse({providers:{agents:["::1:8890", "a:70000", "x"]}}).error?.issues));
});
