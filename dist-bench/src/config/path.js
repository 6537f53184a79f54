const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** `providers.agents[1].addr`, the way messages name a place in config.yml. */
export function formatPath(path) {
    let out = "";
    for (const segment of path) {
        if (typeof segment === "number")
            out += `[${segment}]`;
        else if (PLAIN_KEY.test(segment))
            out += out === "" ? segment : `.${segment}`;
        else
            out += `[${JSON.stringify(segment)}]`;
    }
    return out;
}
/** The value at `path` in plain data, or undefined. */
export function valueAt(data, path) {
    let value = data;
    for (const segment of path) {
        if (value === null || typeof value !== "object")
            return undefined;
        if (!Object.hasOwn(value, segment))
            return undefined;
        value = value[segment];
    }
    return value;
}
/**
 * A value as a message shows it: short, on one line, and never the content
 * of something that looks like PEM (a key pasted where a path belongs).
 */
export function describeValue(value) {
    if (value === null || value === undefined)
        return "no value (null)";
    if (Array.isArray(value))
        return "a list";
    switch (typeof value) {
        case "string":
            if (value.includes("-----BEGIN"))
                return "PEM text";
            return `the string ${quote(value)}`;
        case "number":
        case "bigint":
            return `the number ${String(value)}`;
        case "boolean":
            return `the boolean ${String(value)}`;
        case "object":
            return value instanceof Date ? "a timestamp" : "a mapping";
        default:
            return typeof value;
    }
}
/** JSON-quoted, cut to a length that fits a one-line message. */
export function quote(text, max = 60) {
    const cut = text.length > max ? `${text.slice(0, max)}…` : text;
    return JSON.stringify(cut);
}
