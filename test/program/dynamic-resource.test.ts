/**
 * Dynamic resources register the SDK's serialized provider code, kept in a cache on disk keyed by
 * what the code is made from: a hit is exactly what the serializer prints, a changed module misses,
 * secrets and unreadable entries are never served from it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import {
    DynamicResource,
    PROVIDER_CACHE_DIR,
    providerCacheKey,
    providerCode,
    readCachedProvider,
    writeCachedProvider,
} from "../../components/dynamic-resource";
import { hostFileProvider } from "../../components/host/host-file-provider";
import { serializedProvider } from "../../components/provider-version";
import { isSecretValue, recordingMocks, settle } from "../../tools/evaluate";

type Provider = pulumi.dynamic.ResourceProvider;

/** Fresh directories (outside node_modules: modules there are packages, not the program's), removed after the tests. */
const made: string[] = [];
const scratch = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), `k3sbk-${prefix}-`));
    made.push(dir);
    return dir;
};
after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A provider module requiring a helper, written in a fresh directory and loaded (a fresh module graph). */
function providerModule(helper: string, provider = "exports.provider = { create: async () => ({ id: greet() }) };\n"): Provider {
    const dir = scratch("pc");
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib", "helper.js"), helper);
    writeFileSync(join(dir, "provider.js"), `const { greet } = require("./lib/helper");\n${provider}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(join(dir, "provider.js")) as { provider: Provider }).provider;
}

/** A provider module whose code captures a secret Output. */
const secretiveProvider = (): Provider =>
    providerModule(
        "exports.greet = () => 'a';\n",
        `const pulumi = require(${JSON.stringify(require.resolve("@pulumi/pulumi"))});\nconst token = pulumi.secret("hunter2");\nexports.provider = { create: async () => ({ id: greet(), outs: { token } }) };\n`,
    );

describe("the serialized provider cache", () => {
    it("a miss serializes and writes; a hit is read from disk, exactly what the serializer printed", async () => {
        const dir = scratch("cache");
        const key = providerCacheKey(hostFileProvider);
        assert.match(key ?? "", /^[0-9a-f]{64}$/);
        const first = await providerCode(hostFileProvider, dir);
        assert.deepEqual(readdirSync(dir), [`${String(key)}.json`], "one entry, named by its key");
        assert.equal(first.containsSecrets, false);
        assert.equal(first.text, await serializedProvider(hostFileProvider), "the serializer's own text");
        assert.equal((await providerCode(hostFileProvider, dir)).text, first.text);
        // The second call reads the file: what is there is what comes back.
        writeCachedProvider(String(key), "exports.handler = () => 'from disk';", dir);
        assert.equal((await providerCode(hostFileProvider, dir)).text, "exports.handler = () => 'from disk';");
    });

    it("the key follows the modules the provider loads and their compiled code; the same modules in another checkout share it", () => {
        const helper = (name: string) => `const NAME = "${name}";\nexports.greet = () => NAME;\n`;
        const a = providerCacheKey(providerModule(helper("a")));
        assert.equal(providerCacheKey(providerModule(helper("a"))), a, "another directory, same sources: the same key");
        assert.notEqual(providerCacheKey(providerModule(helper("b"))), a, "a helper's source changed (not its functions' text)");
        const method = providerModule(helper("a"), 'exports.provider = { create: async () => ({ id: greet() + "!" }) };\n');
        assert.notEqual(providerCacheKey(method), a, "the provider's own code changed");
        // Another compiler's output of the same sources: the functions' text differs, the files do not.
        const compiled = providerModule(helper("a"));
        compiled.create = () => Promise.resolve({ id: "compiled otherwise" });
        assert.notEqual(providerCacheKey(compiled), a, "a provider method's text");
        const exported = providerModule(helper("a"));
        const providerFile = Object.values(require.cache).find((m) => (m?.exports as { provider?: unknown }).provider === exported);
        const helperModule = providerFile?.children[0];
        assert.ok(helperModule !== undefined);
        (helperModule.exports as { greet: () => string }).greet = () => "compiled otherwise";
        assert.notEqual(providerCacheKey(exported), a, "an exported function's text");
    });

    it("an unreadable entry, or another key's, is serialized again and rewritten", async () => {
        const dir = scratch("cache");
        const key = String(providerCacheKey(hostFileProvider));
        const file = join(dir, `${key}.json`);
        writeFileSync(file, '{"key": "' + key + '", "te');
        assert.equal(readCachedProvider(key, dir), undefined, "truncated");
        const fresh = await providerCode(hostFileProvider, dir);
        assert.equal(fresh.text, await serializedProvider(hostFileProvider));
        assert.equal(readCachedProvider(key, dir), fresh.text, "rewritten");
        writeFileSync(file, JSON.stringify({ key: "another", text: "exports.handler = () => 'wrong';" }));
        assert.equal(readCachedProvider(key, dir), undefined, "another key's entry");
        assert.equal((await providerCode(hostFileProvider, dir)).text, fresh.text);
    });

    it("a provider no module exports, or one whose code captured a secret, is never written", async () => {
        const dir = scratch("cache");
        const local: Provider = { create: () => Promise.resolve({ id: "x" }) };
        assert.equal(providerCacheKey(local), undefined);
        assert.equal((await providerCode(local, dir)).text, await serializedProvider(local));
        await recordingMocks();
        const secretive = secretiveProvider();
        assert.notEqual(providerCacheKey(secretive), undefined);
        const code = await providerCode(secretive, dir);
        assert.equal(code.containsSecrets, true);
        assert.deepEqual(readdirSync(dir), [], "nothing written");
    });

    it("a directory that cannot be written costs only the cache", () => {
        const dir = scratch("cache");
        writeFileSync(join(dir, "file"), "");
        assert.doesNotThrow(() => writeCachedProvider("k", "text", join(dir, "file", "below")));
        assert.equal(readCachedProvider("k", join(dir, "file", "below")), undefined);
    });
});

describe("what the cache may not know", () => {
    type Codes = Record<string, { code: string; key?: string }>;
    /** The providers' code digests and cache keys as a process with this environment and working directory makes them. */
    const codes = (env: NodeJS.ProcessEnv, cwd: string): Codes =>
        JSON.parse(
            execFileSync(process.execPath, ["--import", require.resolve("tsx"), join(__dirname, "provider-code.print.ts")], {
                encoding: "utf8",
                env,
                cwd,
            }),
        ) as Codes;
    const here = codes(process.env, process.cwd());

    it("every provider's code is the same in another environment and stack (the key holds neither)", () => {
        assert.ok(Object.keys(here).length >= 12, `every provider: ${Object.keys(here).join(", ")}`);
        for (const [name, c] of Object.entries(here)) assert.match(c.key ?? "", /^[0-9a-f]{64}$/, `${name} is cached`);
        const elsewhere = codes(
            {
                ...process.env,
                HOME: scratch("home"),
                USER: "someone-else",
                TZ: "Pacific/Kiritimati",
                LANG: "tr_TR.UTF-8",
                PULUMI_STACK: "other",
                PULUMI_CONFIG: JSON.stringify({ "k3s-buildkit:sshUser": "admin", "k3s-buildkit:sshPort": "2222" }),
            },
            process.cwd(),
        );
        assert.deepEqual(elsewhere, here);
    });

    it("code compiled otherwise (no tsconfig.json found: not strict mode) has other keys", () => {
        const sloppy = codes(process.env, scratch("cwd"));
        const differ = Object.keys(here).filter((name) => sloppy[name].code !== here[name].code);
        assert.ok(differ.length > 0, "the compiler's settings change the serialized code");
        for (const name of differ) assert.notEqual(sloppy[name].key, here[name].key, `${name}: other code, so another key`);
    });
});

describe("DynamicResource", () => {
    class Thing extends DynamicResource {
        constructor(name: string, provider: Provider, props: pulumi.Inputs = {}) {
            super(provider, name, props, {}, "k3s-buildkit", "Thing");
        }
    }

    it("registers what pulumi.dynamic.Resource registers: its type, and the code in __provider (from the default cache)", async () => {
        const recorded = await recordingMocks();
        new Thing("t", hostFileProvider, { size: 1 });
        await settle(recorded);
        assert.equal(recorded[0].type, "pulumi-nodejs:dynamic/k3s-buildkit:Thing");
        assert.equal(recorded[0].inputs.size, 1);
        assert.equal(recorded[0].inputs.__provider, await serializedProvider(hostFileProvider));
        const entry = JSON.parse(readFileSync(join(PROVIDER_CACHE_DIR, `${String(providerCacheKey(hostFileProvider))}.json`), "utf8")) as {
            text: string;
        };
        assert.equal(entry.text, recorded[0].inputs.__provider, "the default cache holds it");
    });

    it("code that captured a secret is a secret input", async () => {
        const recorded = await recordingMocks();
        const secretive = secretiveProvider();
        new Thing("s", secretive);
        await settle(recorded);
        assert.ok(isSecretValue(recorded[0].inputs.__provider));
    });

    it("refuses props that define __provider", () => {
        assert.throws(() => new Thing("x", hostFileProvider, { __provider: "code" }), /must not define the __provider key/);
    });
});
