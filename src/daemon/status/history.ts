import type { ReloadResult } from "../../reload/result.js";

/** One reload attempt as `/status` lists it in `recentReloads`, newest first. */
export interface ReloadRecord {
  readonly ok: boolean;
  /** ISO time the attempt finished. */
  readonly at: string;
  readonly cause: ReloadResult["cause"];
  readonly durationMs: number;
  /** The snapshot version after a successful attempt. */
  readonly version?: number;
  /** Agent counts of a successful attempt. */
  readonly added?: number;
  readonly removed?: number;
  readonly changed?: number;
  /** The located error (`file:line:col: path: message`, one issue per line) of a failed one. */
  readonly error?: string;
  readonly code?: string;
}

/** The last few reload attempts, kept in memory. */
export interface ReloadHistory {
  /** Records one attempt and returns the record. */
  record(result: ReloadResult): ReloadRecord;
  /** The records, newest first; a new frozen array each call. */
  list(): readonly ReloadRecord[];
}

/** How many attempts `/status` and the status page show. */
export const RELOAD_HISTORY_LIMIT = 20;

/** A bounded history: once `limit` attempts are kept, each new one drops the oldest. */
export function createReloadHistory(limit = RELOAD_HISTORY_LIMIT): ReloadHistory {
  if (!(Number.isInteger(limit) && limit > 0))
    throw new TypeError("limit must be a positive integer.");
  const records: ReloadRecord[] = [];
  return {
    record(result) {
      const common = {
        ok: result.ok,
        at: result.at,
        cause: result.cause,
        durationMs: Math.round(result.durationMs * 100) / 100,
      };
      const record: ReloadRecord = Object.freeze(
        result.ok
          ? {
              ...common,
              version: result.version,
              added: result.added.length,
              removed: result.removed.length,
              changed: result.changed.length,
            }
          : { ...common, error: result.error.message, code: result.error.code },
      );
      records.unshift(record);
      if (records.length > limit) records.length = limit;
      return record;
    },
    list: () => Object.freeze(records.slice()),
  };
}
