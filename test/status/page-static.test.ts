import { Script } from "node:vm";
import { describe, expect, it } from "vitest";
import { PAGE_HTML } from "../../src/daemon/status/page/html.js";
import { PAGE_JS } from "../../src/daemon/status/page/js.js";
import { STATUS_PAGE_CSP } from "../../src/daemon/status/page/route.js";

// What holds without a browser; test/status/page.test.ts drives the page in chromium.
describe("status page assets", () => {
  it("the script is valid JavaScript", () => {
    expect(() => new Script(PAGE_JS, { filename: "page.js" })).not.toThrow();
  });

  it("the markup has no inline script, style or event handler, so the CSP needs no exceptions", () => {
    expect(PAGE_HTML).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(PAGE_HTML).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(STATUS_PAGE_CSP).not.toMatch(/unsafe|\*|http/);
    expect(STATUS_PAGE_CSP).toMatch(/default-src 'none'/);
  });

  it("the script writes daemon data as text only, never as markup", () => {
    expect(PAGE_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });
});
