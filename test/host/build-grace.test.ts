/**
 * A BuildKit restart waits for the builds running on the daemon: the restart script of `buildkit.service`
 * run by a real bash against a stub `systemctl` and a stub `buildctl` that answers `debug histories` the
 * way BuildKit does (a STARTED event per active build, COMPLETE per finished one). The real daemon's
 * answer, and a real upgrade during a real build, are in test/real-host/buildkit.scenario.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { applyServiceScript } from "../../components/host/host-service-provider";

const dir = mkdtempSync(join(tmpdir(), "build-grace-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the restart script with stubs; `busyAnswers` histories calls report the build `ref1` as running. */
function restart(busyAnswers: number, graceSeconds: number): { log: string[]; stderr: string; status: number | null } {
    const bin = mkdtempSync(join(dir, "bin-"));
    const log = join(bin, "calls.log");
    writeFileSync(join(bin, "count"), "0");
    writeFileSync(join(bin, "systemctl"), `#!/bin/bash\necho "systemctl $*" >>${log}\n[ "$1" = is-active ] && echo active\nexit 0\n`);
    writeFileSync(
        join(bin, "buildctl"),
        `#!/bin/bash
echo "buildctl $*" >>${log}
n=$(cat ${bin}/count); echo $((n + 1)) >${bin}/count
echo "COMPLETE oldref"
[ "$n" -lt ${busyAnswers} ] && echo "STARTED ref1"
exit 0
`,
    );
    writeFileSync(join(bin, "sleep"), "#!/bin/sh\nexit 0\n");
    for (const f of ["systemctl", "buildctl", "sleep"]) chmodSync(join(bin, f), 0o755);
    const script = applyServiceScript(
        {
            unit: "buildkit.service",
            enabled: true,
            active: true,
            startTimeoutSeconds: 0,
            waitForBuilds: { buildkitAddress: "unix:///run/buildkit/buildkitd.sock", timeoutSeconds: graceSeconds },
        },
        true,
    );
    const r = spawnSync("bash", ["-c", `set -euo pipefail\n${script}`], {
        env: { PATH: `${bin}:/usr/bin:/bin` },
        encoding: "utf8",
    });
    return { log: readFileSync(log, "utf8").trim().split("\n"), stderr: r.stderr, status: r.status };
}

describe("buildkit.service restart waits for running builds", () => {
    it("asks BuildKit for its active builds until there are none, then restarts, once", () => {
        const r = restart(3, 900);
        assert.equal(r.status, 0, r.stderr);
        const histories = "buildctl --addr unix:///run/buildkit/buildkitd.sock debug histories --format {{.Type}} {{.Record.Ref}}";
        assert.deepEqual(
            r.log.filter(
                (l) =>
                    !l.startsWith("systemctl is-active") && !l.startsWith("systemctl daemon-reload") && !l.startsWith("systemctl enable"),
            ),
            [histories, histories, histories, histories, "systemctl restart -- buildkit.service"],
        );
        assert.match(r.stderr, /waits for 1 running build\(s\) before it restarts \(at most 900 s\): ref1/);
        assert.match(r.stderr, /runs no build; restarting/);
    });

    it("past the bound it restarts anyway, naming the builds it cuts", () => {
        const r = restart(1000, 0);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(r.log.includes("systemctl restart -- buildkit.service"));
        assert.match(r.stderr, /with builds still running after 0 s \(buildkit\.buildGraceSeconds\): ref1/);
    });

    it("a plain start (no restart) never asks BuildKit", () => {
        const script = applyServiceScript(
            { unit: "buildkit.service", enabled: true, active: true, waitForBuilds: { buildkitAddress: "unix:///x", timeoutSeconds: 9 } },
            false,
        );
        assert.match(script, /if \[ "\$verb" = restart \]/);
        const bin = mkdtempSync(join(dir, "bin-"));
        writeFileSync(
            join(bin, "systemctl"),
            `#!/bin/bash\necho "systemctl $*" >>${bin}/log\n[ "$1" = is-active ] && echo active\nexit 0\n`,
        );
        writeFileSync(join(bin, "buildctl"), `#!/bin/bash\necho buildctl >>${bin}/log\n`);
        chmodSync(join(bin, "systemctl"), 0o755);
        chmodSync(join(bin, "buildctl"), 0o755);
        const r = spawnSync("bash", ["-c", `set -euo pipefail\n${script}`], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(!readFileSync(join(bin, "log"), "utf8").includes("buildctl"));
    });
});
