/**
 * The Pulumi SDK records a stack trace for every promise it wraps (`debuggablePromise` in
 * `@pulumi/pulumi/runtime/debuggable.js`: `new Error().stack`), to print with its promise-leak report,
 * with a context label (four per input property of each resource), and prints both only when
 * `PULUMI_DEBUG_PROMISE_LEAKS` is set. Capturing and formatting those stacks (through source maps, frame
 * by frame) was the largest single cost of evaluating the program, and the labels held about 15 MB at
 * 100 hosts while their promises were pending (`npm run bench -- --profile hosts 100`, docs/benchmarks.md).
 *
 * {@link skipSdkPromiseStacks} replaces the module's export (the SDK calls it through its module object)
 * with a wrapper that captures no frames (`Error.stackTraceLimit` is 0 for the duration of the call) and
 * passes no label. The promise is still tracked for the leak report, which without
 * `PULUMI_DEBUG_PROMISE_LEAKS` counts the leaked promises and prints neither. Every other error keeps its
 * stack; with `PULUMI_DEBUG_PROMISE_LEAKS` set nothing changes.
 */

/** The SDK's promise wrapper, as its module exports it (internal: not in its typings). */
type DebuggablePromise = <T>(p: Promise<T>, ctx?: unknown) => Promise<T>;

interface DebuggableModule {
    debuggablePromise: DebuggablePromise & { [MARK]?: true };
}

const MARK = Symbol.for("k3s-buildkit.skipSdkPromiseStacks");

/** `wrapped` with no stack frames captured while it runs: `Error.stackTraceLimit` is 0 meanwhile, and restored even when it throws. */
export function withoutStackFrames<A extends unknown[], R>(wrapped: (...args: A) => R): (...args: A) => R {
    return (...args) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return wrapped(...args);
        } finally {
            Error.stackTraceLimit = limit;
        }
    };
}

/** Installs the wrapper (no frames, no label) on the SDK's module (once; not when leak debugging is on). Returns whether it did. */
export function skipSdkPromiseStacks(env: NodeJS.ProcessEnv = process.env): boolean {
    if (env.PULUMI_DEBUG_PROMISE_LEAKS) return false;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal module, not in the SDK's typings
    const sdk = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule;
    if (sdk.debuggablePromise[MARK] === true) return false;
    const bare = withoutStackFrames(sdk.debuggablePromise);
    const wrapper = <T>(p: Promise<T>): Promise<T> => bare(p, undefined) as Promise<T>;
    sdk.debuggablePromise = Object.assign(wrapper, { [MARK]: true as const });
    return true;
}
