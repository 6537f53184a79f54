import { expect, it } from "vitest";
import * as nodeBuild from "yaml";
import { yaml } from "../../src/config/yaml-lib.js";

it("loads yaml's browser build, which skips the per-token environment lookup", () => {
  expect(yaml.parseDocument).not.toBe(nodeBuild.parseDocument);
  // Nodes from either build are recognised by the other (shared Symbol.for tags).
  const doc = yaml.parseDocument("a: [1, 2]\n");
  expect(nodeBuild.isMap(doc.contents)).toBe(true);
  expect(doc.toJS()).toEqual({ a: [1, 2] });
});
