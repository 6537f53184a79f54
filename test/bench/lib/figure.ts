/** One number the benchmark reports, with what it is compared against. */
export interface Figure {
  /** Stable key, e.g. `lookups.getAgent.10000`, for comparing runs. */
  id: string;
  /** What the row shows, e.g. `getAgent(name) at 10,000 agents`. */
  label: string;
  /** The headline value in `unit`. */
  value: number;
  unit: string;
  /** `value` for people, e.g. `41.2 M ops/s`. */
  display: string;
  /** Further numbers (p99, breakdown, sample count), for the table's detail column. */
  detail?: string;
  /** The target from issue 6, for people; null when the row is context (a floor, a baseline). */
  target: string | null;
  /** Whether the target was met; null when there is no target. */
  pass: boolean | null;
  /** Raw numbers kept in the JSON. */
  data?: Record<string, unknown>;
}

/** What one measure (one section of issue 6) produced. */
export interface MeasureResult {
  key: string;
  title: string;
  /** What was measured and how: one paragraph for the README. */
  how: string;
  figures: Figure[];
  /** Anything a reader should know about this run (reduced counts, anomalies). */
  notes: string[];
}

export interface BenchOptions {
  /** Small counts: a smoke run that finishes in seconds; its figures mean little. */
  quick: boolean;
}

export const fmtInt = (n: number) => n.toLocaleString("en-US");
