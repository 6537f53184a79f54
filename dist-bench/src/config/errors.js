/** `file:line:col: path: message`, leaving out the parts an issue does not have. */
export function formatIssue(issue) {
    let where = issue.file;
    if (issue.line !== undefined)
        where += `:${issue.line}`;
    if (issue.line !== undefined && issue.col !== undefined)
        where += `:${issue.col}`;
    return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}
/**
 * A config file that cannot be used. `ERR_CONFIG_PARSE`: the file could not be
 * read or is not acceptable YAML. `ERR_CONFIG_INVALID`: it parsed, but what it
 * says is wrong (schema, duplicates, TLS files). `message` is the issues, one
 * per line.
 */
export class ConfigError extends Error {
    name = "ConfigError";
    code;
    issues;
    /**
     * Absolute paths of the files this attempt read or tried to read (config.yml
     * and TLS files), so a watcher can notice when a missing one appears.
     */
    inputs;
    constructor(code, issues, options = {}) {
        super(issues.map(formatIssue).join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
        this.code = code;
        this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
        this.inputs = Object.freeze([...(options.inputs ?? [])]);
    }
}
