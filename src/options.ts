/*
 * One way to take `FooOptions` (as pino and undici do): defaults frozen once
 * per module, `undefined` treated as "not given", every option checked, and an
 * invalid one refused with one plain sentence.
 */

/** An invalid option; the message is one sentence that names it, e.g. `timeoutMs must be a positive number of milliseconds.` */
export class OptionError extends TypeError {
  override readonly name = "OptionError";
  readonly code = "ERR_INVALID_OPTION";
  /** The option's name. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(message);
    this.option = option;
  }
}

/** Judges one option's value: the rest of the sentence after its name (`must be …`), or undefined when it is fine. */
export type OptionCheck = (value: unknown) => string | undefined;

const isPositive = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && value > 0;

/**
 * The longest delay Node's timers keep: a larger one fires after 1 ms
 * (with a TimeoutOverflowWarning), which would turn a long period into a spin.
 */
export const MAX_TIMER_MS = 2_147_483_647;

const tooLong = (value: unknown): boolean => typeof value === "number" && value > MAX_TIMER_MS;
const TOO_LONG = `must be at most ${MAX_TIMER_MS} milliseconds (about 24 days)`;

/** The checks the options of this package use. */
export const check = Object.freeze({
  string: ((value) => (typeof value === "string" ? undefined : "must be a string")) as OptionCheck,
  nonEmptyString: ((value) =>
    typeof value === "string" && value !== "" ? undefined : "is required") as OptionCheck,
  boolean: ((value) =>
    typeof value === "boolean" ? undefined : "must be a boolean") as OptionCheck,
  function: ((value) =>
    typeof value === "function" ? undefined : "must be a function") as OptionCheck,
  positiveInteger: ((value) =>
    Number.isInteger(value) && (value as number) > 0
      ? undefined
      : "must be a positive integer") as OptionCheck,
  positiveMs: ((value) => {
    if (!isPositive(value)) return "must be a positive number of milliseconds";
    return tooLong(value) ? TOO_LONG : undefined;
  }) as OptionCheck,
  nonNegativeMs: ((value) => {
    if (!(typeof value === "number" && Number.isFinite(value) && value >= 0))
      return "must be a number of milliseconds, 0 or more";
    return tooLong(value) ? TOO_LONG : undefined;
  }) as OptionCheck,
  positiveBytes: ((value) =>
    isPositive(value) ? undefined : "must be a positive number of bytes") as OptionCheck,
  object: ((value) =>
    typeof value === "object" && value !== null ? undefined : "must be an object") as OptionCheck,
  abortSignal: ((value) =>
    value instanceof AbortSignal ? undefined : "must be an AbortSignal") as OptionCheck,
  /** Duck-typed, so that a pool from another copy of this package passes. */
  agentPool: ((value) =>
    typeof (value as { snapshots$?: { subscribe?: unknown } } | null)?.snapshots$?.subscribe ===
    "function"
      ? undefined
      : "must be an AgentPool") as OptionCheck,
  observable: ((value) =>
    typeof (value as { subscribe?: unknown } | null)?.subscribe === "function"
      ? undefined
      : "must be an Observable") as OptionCheck,
});

/** Throws the {@link OptionError} for `option`: `${option} ${rest}.` */
export function invalidOption(option: string, rest: string): never {
  throw new OptionError(option, `${option} ${rest}.`);
}

/** `T` with the keys that have defaults made required. */
export type Resolved<T, D> = Readonly<Omit<T, keyof D> & Required<Pick<T, keyof D & keyof T>>>;

/**
 * `options` over `defaults` (frozen once by the caller), with keys whose value
 * is `undefined` dropped so they fall back to the default. The keys listed in
 * `required` must then be present; each check runs on its option's value when
 * there is one. Returns a frozen object; throws an {@link OptionError} on the
 * first invalid option.
 */
export function resolveOptions<T extends object, D extends Partial<T>>(
  options: T | undefined,
  defaults: Readonly<D>,
  checks: { readonly [K in keyof T]?: OptionCheck },
  required: readonly (keyof T & string)[] = [],
): Resolved<T, D> {
  const given = Object.fromEntries(
    Object.entries(options ?? {}).filter(([, value]) => value !== undefined),
  );
  const resolved = Object.freeze({ ...defaults, ...given }) as Record<string, unknown>;
  for (const key of required) {
    if (resolved[key] === undefined || resolved[key] === null) invalidOption(key, "is required");
  }
  for (const [key, judge] of Object.entries(checks) as [string, OptionCheck | undefined][]) {
    if (!judge || resolved[key] === undefined) continue;
    const why = judge(resolved[key]);
    if (why !== undefined) invalidOption(key, why);
  }
  return resolved as Resolved<T, D>;
}
