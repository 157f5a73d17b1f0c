/**
 * BuildkitCacheUsage: a host daemon's cache size, from BuildKit's own `buildctl du --format '{{json .}}'`
 * (client.UsageInfo records), summed as buildctl's summary sums them (cmd/buildctl/diskusage.go:
 * positive sizes; not in use is reclaimable). A daemon that does not answer is unavailable, not an error.
 * The same reading against real BuildKit: test/real-host/buildkit.scenario.ts (GC).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cacheUsageChanges, cacheUsageScript, parseCacheUsage } from "../../components/host/cache-usage-provider";

const dir = mkdtempSync(join(tmpdir(), "k3s-cache-usage-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("BuildKit cache usage", () => {
    it("sums positive sizes; records not in use are reclaimable", () => {
        const records = [
            { id: "a", inUse: false, size: 1000, shared: false },
            { id: "b", inUse: true, size: 250 },
            { id: "c", inUse: false, size: -1 },
            { id: "d", inUse: false, size: 0 },
        ];
        assert.deepEqual(parseCacheUsage(`${JSON.stringify(records)}\n`), {
            available: true,
            totalBytes: 1250,
            reclaimableBytes: 1000,
            records: 4,
        });
        assert.deepEqual(parseCacheUsage("null\n"), { available: true, totalBytes: 0, reclaimableBytes: 0, records: 0 }, "an empty cache");
        assert.deepEqual(parseCacheUsage("unavailable\n"), { available: false, totalBytes: 0, reclaimableBytes: 0, records: 0 });
    });

    it("the script asks buildctl at the daemon's address; a daemon that does not answer reads as unavailable", () => {
        const bin = mkdtempSync(join(dir, "bin-"));
        writeFileSync(
            join(bin, "buildctl"),
            `#!/bin/sh\n[ "$*" = "--addr unix:///run/buildkit/buildkitd.sock du --format {{json .}}" ] || { echo "unexpected: $*" >&2; exit 2; }\n[ -n "$DOWN" ] && { echo "connection refused" >&2; exit 1; }\necho '[{"id":"x","inUse":false,"size":42}]'\n`,
            { mode: 0o755 },
        );
        const run = (env: Record<string, string>) =>
            spawnSync("bash", ["-c", `set -euo pipefail\n${cacheUsageScript("unix:///run/buildkit/buildkitd.sock")}`], {
                env: { PATH: `${bin}:/usr/bin:/bin`, ...env },
                encoding: "utf8",
            });
        const up = run({});
        assert.equal(up.status, 0, up.stderr);
        assert.deepEqual(parseCacheUsage(up.stdout), { available: true, totalBytes: 42, reclaimableBytes: 42, records: 1 });
        const down = run({ DOWN: "1" });
        assert.equal(down.status, 0, "a refresh goes on");
        assert.equal(parseCacheUsage(down.stdout).available, false);
    });

    it("a new key changes state only; another address or host reads again", () => {
        const target = { kind: "local" as const, sudo: false };
        const base = { target, address: "unix:///run/buildkit/buildkitd.sock", providerVersion: "v1" };
        assert.deepEqual(cacheUsageChanges(base, base), []);
        assert.deepEqual(cacheUsageChanges(base, { ...base, address: "unix:///run/other.sock" }), ["address"]);
        assert.deepEqual(cacheUsageChanges(base, { ...base, target: { kind: "local", sudo: true } }), ["credentials"]);
    });
});
