/**
 * The SDK's per-promise stack traces are formatted as "" (they are printed only with
 * PULUMI_DEBUG_PROMISE_LEAKS set); every other error keeps its stack.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSdkPromiseStack, skipSdkPromiseStacks } from "../../components/promise-stacks";

/** The SDK's wrapper (internal: not in its typings). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
    debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
    promiseDebugString: (p: Promise<unknown>) => string;
};

/** The hook V8 calls to format a stack (compared by identity only). */
// eslint-disable-next-line @typescript-eslint/unbound-method
const currentHook = () => Error.prepareStackTrace;

const frame = (name: string | null) => ({ getFunctionName: () => name });

describe("the SDK's promise stacks", () => {
    it("are recognised by their first frame only", () => {
        assert.equal(isSdkPromiseStack([frame("debuggablePromise"), frame("registerResource")]), true);
        assert.equal(isSdkPromiseStack([frame("registerResource"), frame("debuggablePromise")]), false);
        assert.equal(isSdkPromiseStack([frame(null)]), false);
        assert.equal(isSdkPromiseStack([]), false);
    });

    it("is not installed while promise leaks are debugged", () => {
        const before = currentHook();
        assert.equal(skipSdkPromiseStacks({ PULUMI_DEBUG_PROMISE_LEAKS: "1" }), false);
        assert.equal(currentHook(), before);
    });

    it("the real SDK's promises record no stack; other errors keep theirs, once installed (idempotent)", async () => {
        // The SDK marks the promise it is given (and returns another).
        type Marked = Promise<number> & { _debugStackTrace?: string; _debugId?: number };
        const p: Marked = Promise.resolve(1);
        const pDone = debuggable.debuggablePromise(p, "a test promise");
        assert.match(
            p._debugStackTrace ?? "",
            /^Error\n {4}at (Object\.)?debuggablePromise /,
            "before: the SDK formats a stack per promise",
        );
        skipSdkPromiseStacks({});
        const once = currentHook();
        assert.equal(skipSdkPromiseStacks({}), false, "installed once");
        assert.equal(currentHook(), once);
        const q: Marked = Promise.resolve(2);
        const qDone = debuggable.debuggablePromise(q, "another");
        assert.equal(q._debugStackTrace, "");
        assert.equal(debuggable.promiseDebugString(q), `CONTEXT(${String(q._debugId)}): another\nSTACK_TRACE:\n`);
        function somewhereInTheProgram(): Error {
            return new Error("a real failure");
        }
        const stack = somewhereInTheProgram().stack ?? "";
        assert.match(stack, /^Error: a real failure\n {4}at somewhereInTheProgram \(.*promise-stacks\.test\.ts:\d+:\d+\)/);
        await Promise.all([pDone, qDone]);
    });
});
