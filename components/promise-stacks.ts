/**
 * The Pulumi SDK records a stack trace for every promise it wraps (`debuggablePromise` in
 * `@pulumi/pulumi/runtime/debuggable.js`: `new Error().stack`), to print with its promise-leak report,
 * and prints them only when `PULUMI_DEBUG_PROMISE_LEAKS` is set. Formatting those stacks (through
 * source maps, frame by frame) was the largest single cost of evaluating the program: about a quarter
 * of the time at 100 hosts, and the strings stay in memory with their promises (`npm run bench --
 * --profile hosts 100`, docs/benchmarks.md).
 *
 * {@link skipSdkPromiseStacks} formats those stacks, and only those, as "": a stack whose first frame is
 * `debuggablePromise`. Every other error keeps its stack, formatted as before; with
 * `PULUMI_DEBUG_PROMISE_LEAKS` set nothing changes.
 */

type PrepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => unknown;

const MARK = Symbol.for("k3s-buildkit.skipSdkPromiseStacks");

/** The frame `new Error()` in the SDK's promise wrapper starts with. */
export const SDK_PROMISE_FRAME = "debuggablePromise";

/** Whether a stack is the SDK's promise bookkeeping (its first frame is {@link SDK_PROMISE_FRAME}). Pure. */
export function isSdkPromiseStack(frames: readonly Pick<NodeJS.CallSite, "getFunctionName">[]): boolean {
    return frames[0]?.getFunctionName() === SDK_PROMISE_FRAME;
}

/** Installs the filter around the current `Error.prepareStackTrace` (once; not when leak debugging is on). */
export function skipSdkPromiseStacks(env: NodeJS.ProcessEnv = process.env): boolean {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a hook V8 calls unbound itself
    const prepare = Error.prepareStackTrace as (PrepareStackTrace & { [MARK]?: true }) | undefined;
    if (env.PULUMI_DEBUG_PROMISE_LEAKS || typeof prepare !== "function" || prepare[MARK] === true) return false;
    const filtered: PrepareStackTrace = (error, frames) => (isSdkPromiseStack(frames) ? "" : prepare(error, frames));
    Error.prepareStackTrace = Object.assign(filtered, { [MARK]: true as const });
    return true;
}
