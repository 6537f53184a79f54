import type { IncomingMessage, ServerResponse } from "node:http";
import { PAGE_CSS } from "./css.js";
import { PAGE_HTML } from "./html.js";
import { PAGE_JS } from "./js.js";

/**
 * The page loads only its own script and style sheet and talks only to its
 * own origin; no inline script or style, no frames, no forms, no plugins.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = Object.freeze({
  "content-security-policy": STATUS_PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
});

function staticRoute(body: string, contentType: string) {
  const bytes = Buffer.from(body, "utf8");
  return (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      "content-type": contentType,
      "content-length": bytes.length,
      "cache-control": "no-cache",
      ...SECURITY_HEADERS,
    });
    res.end(bytes);
  };
}

// Same-origin, so the browser does not ask for a /favicon.ico that is not there.
const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#1a7f37"/></svg>';

/** The paths of the status page: the page itself at `/`, and its script and style sheet. */
export const STATUS_PAGE_PATHS = ["/", "/page.js", "/page.css", "/favicon.svg"] as const;

/** Handlers for {@link STATUS_PAGE_PATHS}; GET and HEAD (the server refuses other methods). */
export const statusPageRoutes: Record<
  (typeof STATUS_PAGE_PATHS)[number],
  (req: IncomingMessage, res: ServerResponse) => void
> = Object.freeze({
  "/": staticRoute(PAGE_HTML, "text/html; charset=utf-8"),
  "/page.js": staticRoute(PAGE_JS, "text/javascript; charset=utf-8"),
  "/page.css": staticRoute(PAGE_CSS, "text/css; charset=utf-8"),
  "/favicon.svg": staticRoute(FAVICON_SVG, "image/svg+xml"),
});
