/**
 * The SDK's per-promise stack traces are not captured (they are printed only with
 * PULUMI_DEBUG_PROMISE_LEAKS set); every other error keeps its stack.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { skipSdkPromiseStacks, withoutStackFrames } from "../../components/promise-stacks";
import { recordingMocks } from "../../tools/evaluate";

/** The SDK's wrapper module (internal: not in its typings). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as {
    debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T>;
    promiseDebugString: (p: Promise<unknown>) => string;
};

/** A resource of a type the mocks know nothing about. */
class Thing extends pulumi.CustomResource {
    constructor(name: string) {
        super("test:index:Thing", name, { size: 1 });
    }
}

/**
 * Registers one resource under the mocks and returns how many stacks the SDK's promise wrapper
 * captured meanwhile (stacks whose first frame is `debuggablePromise`, seen by V8's formatting hook).
 */
async function sdkStacksWhileRegistering(name: string): Promise<number> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- a hook V8 calls unbound itself
    const prepare = Error.prepareStackTrace;
    let captured = 0;
    Error.prepareStackTrace = (error, frames) => {
        if (frames[0]?.getFunctionName() === "debuggablePromise") captured++;
        return prepare === undefined ? String(error) : (prepare(error, frames) as unknown);
    };
    try {
        const r = new Thing(name);
        await new Promise((done) => r.urn.apply(done));
    } finally {
        Error.prepareStackTrace = prepare;
    }
    return captured;
}

describe("the SDK's promise stacks", () => {
    it("a function wrapped captures no frames, and the limit is restored, also when it throws", () => {
        const limit = Error.stackTraceLimit;
        const stack = withoutStackFrames(() => new Error("inside").stack ?? "")();
        assert.equal(stack.includes("    at "), false, stack);
        assert.equal(Error.stackTraceLimit, limit);
        assert.throws(
            withoutStackFrames(() => {
                throw new Error("thrown inside");
            }),
            /thrown inside/,
        );
        assert.equal(Error.stackTraceLimit, limit);
        assert.match(new Error("outside").stack ?? "", /\n {4}at /);
    });

    it("is not installed while promise leaks are debugged", () => {
        const before = debuggable.debuggablePromise;
        assert.equal(skipSdkPromiseStacks({ PULUMI_DEBUG_PROMISE_LEAKS: "1" }), false);
        assert.equal(debuggable.debuggablePromise, before);
    });

    it("the real SDK registers a resource capturing no promise stacks once installed (idempotent); promises stay tracked without labels, other errors keep their stacks", async () => {
        await recordingMocks();
        assert.ok((await sdkStacksWhileRegistering("before")) > 0, "before: the SDK captures a stack per promise");
        assert.equal(skipSdkPromiseStacks({}), true);
        const installed = debuggable.debuggablePromise;
        assert.equal(skipSdkPromiseStacks({}), false, "installed once");
        assert.equal(debuggable.debuggablePromise, installed);
        assert.equal(await sdkStacksWhileRegistering("after"), 0);

        type Marked = Promise<number> & { _debugId?: number };
        const q: Marked = Promise.resolve(2);
        assert.equal(await debuggable.debuggablePromise(q, "another"), 2);
        assert.equal(typeof q._debugId, "number", "still tracked, with its id");
        assert.equal(
            debuggable.promiseDebugString(q),
            `CONTEXT(${String(q._debugId)}): undefined\nSTACK_TRACE:\nError`,
            "no label, no frames",
        );
        function somewhereInTheProgram(): Error {
            return new Error("a real failure");
        }
        const stack = somewhereInTheProgram().stack ?? "";
        assert.match(stack, /^Error: a real failure\n {4}at somewhereInTheProgram \(.*promise-stacks\.test\.ts:\d+:\d+\)/);
    });
});
