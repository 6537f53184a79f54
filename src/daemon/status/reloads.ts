import type { PoolSnapshot } from "../../pool/snapshot.js";
import type { ReloadResult } from "../../reload/result.js";
import { createReloadHistory, type ReloadRecord } from "./history.js";
import { reloadSummary, type StatusBody } from "./views.js";

/** What the status endpoint knows of reloads: the last result, the last success, the history. */
export interface ReloadReadModel {
  /** Takes in one result; returns its history record (sent on `/events`). */
  follow(result: ReloadResult): ReloadRecord;
  /** `/readyz`: 503 before any config was applied, 200 after (saying when the last reload failed). */
  readiness(): { status: 200 | 503; text: string };
  /** `/status` for the current snapshot. */
  statusBody(snapshot: PoolSnapshot, configPath: string): StatusBody;
}

/** An empty read model: not ready until a successful result comes in. */
export function createReloadReadModel(): ReloadReadModel {
  let lastResult: ReloadResult | undefined;
  let lastSuccess: { at: string; version: number } | undefined;
  const history = createReloadHistory();
  return {
    follow(result) {
      lastResult = result;
      if (result.ok) lastSuccess = { at: result.at, version: result.version };
      return history.record(result);
    },
    readiness() {
      if (!lastSuccess) return { status: 503, text: "not ready: no config loaded yet" };
      if (lastResult && !lastResult.ok) {
        return {
          status: 200,
          text: `ready, serving the config loaded at ${lastSuccess.at}; the last reload failed at ${lastResult.at}`,
        };
      }
      return { status: 200, text: "ready" };
    },
    statusBody: (snapshot, configPath) => ({
      version: snapshot.version,
      agents: snapshot.agents.length,
      configPath,
      ready: lastSuccess !== undefined,
      lastReload: lastResult ? reloadSummary(lastResult) : null,
      ...(lastSuccess ? { lastSuccess } : {}),
      recentReloads: history.list(),
    }),
  };
}
