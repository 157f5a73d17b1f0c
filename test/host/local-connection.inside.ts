/**
 * The local-connection cases, run ON a real systemd machine (the project bound at /repo), by
 * test/host/local-connection.test.ts: the same HostFile and SystemdService providers as over SSH, but
 * with `connection: local`, as root and as a user going through `sudo -n`.
 * Not a *.test.ts file: it only makes sense inside the test machine.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import type { TransportTarget } from "../../components/host/runner";
import { sha256Hex } from "../../components/host/host-file-provider";
import { fileProvider, serviceProvider } from "./provider-driver";

if (process.env.K3SBK_INSIDE_MACHINE !== "1") throw new Error("run by test/host/local-connection.test.ts inside the test machine only");

const sudo = process.getuid?.() !== 0;
const target: TransportTarget = { kind: "local", sudo };
const who = sudo ? "builder via sudo" : "root";
const systemctl = (...args: string[]) => execFileSync("sudo", ["-n", "systemctl", ...args], { encoding: "utf8" }).trim();
const systemctlState = (unit: string) =>
    ["is-enabled", "is-active"].map((v) => {
        try {
            return systemctl(v, unit);
        } catch (e) {
            return String((e as { stdout?: string }).stdout ?? "").trim();
        }
    });

describe(`local connection (${who})`, () => {
    it("SystemdService: a start that never reports ready fails within its bound, with the unit's log; fixed, the next apply starts it", async () => {
        const unit = `k3sbk-notify-${sudo ? "sudo" : "root"}.service`;
        const f = fileProvider();
        const s = serviceProvider();
        // Like k3s's unit: Type=notify, no start timeout; this one never says READY=1.
        const never =
            "[Service]\nType=notify\nTimeoutStartSec=0\nExecStart=/bin/sh -c 'echo waiting-for-godot token=hunter2; exec sleep infinity'\n[Install]\nWantedBy=multi-user.target\n";
        const file = await f.create({
            target,
            path: `/etc/systemd/system/${unit}`,
            content: never,
            mode: "0644",
            owner: "root",
            group: "root",
            providerVersion: "1",
        });
        const inputs = {
            target,
            unit,
            enabled: true,
            active: true,
            restartTriggers: [],
            stopOnDelete: true,
            startTimeoutSeconds: 3,
            providerVersion: "2",
        };
        const t0 = Date.now();
        await assert.rejects(s.create(inputs), (e: Error) => {
            assert.match(e.message, new RegExp(`${unit.replace(".", "\\.")} on \\S+ is activating after start \\(bound: 3 s\\)`));
            assert.match(e.message, /waiting-for-godot token=\[secret\]/);
            assert.ok(!e.message.includes("hunter2"));
            return true;
        });
        const seconds = (Date.now() - t0) / 1000;
        assert.ok(seconds < 15, `failed after ${seconds} s`);
        const fixed = never.replace("Type=notify", "Type=simple");
        const repaired = await f.update(file.id, file.outs, { ...file.outs, content: fixed });
        const created = await s.create(inputs);
        assert.deepEqual(systemctlState(unit), ["enabled", "active"]);
        await s.delete(created.id, created.outs);
        await f.delete(file.id, repaired.outs);
    });

    it("HostFile: create, unchanged read, drift, repair, delete", async () => {
        const f = fileProvider();
        const path = `/etc/k3sbk-local/${sudo ? "sudo" : "root"}.conf`;
        const content = "a = 'b' $(touch /tmp/pwned)\n";
        const inputs = { target, path, content, mode: "0600", owner: "root", group: "root", providerVersion: "1" };
        const created = await f.create(inputs);
        assert.equal(created.id, `local:${path}`);
        if (!sudo) assert.equal(readFileSync(path, "utf8"), content);
        assert.equal(execFileSync("sudo", ["-n", "stat", "-c", "%a %U", path], { encoding: "utf8" }), "600 root\n");
        assert.equal(existsSync("/tmp/pwned"), false);
        assert.deepEqual((await f.read(created.id, created.outs)).props, created.outs);
        execFileSync("sudo", ["-n", "sh", "-c", `echo edit >> ${path}; chmod 644 ${path}`]);
        const drifted = await f.read(created.id, created.outs);
        assert.equal(drifted.props.sha256, sha256Hex(`${content}edit\n`));
        assert.equal(drifted.props.mode, "0644");
        assert.equal((await f.diff(created.id, drifted.props, inputs)).changes, true);
        const repaired = await f.update(created.id, drifted.props, inputs);
        assert.deepEqual((await f.read(created.id, repaired.outs)).props, created.outs);
        await f.delete(created.id, repaired.outs);
        assert.equal(execFileSync("sudo", ["-n", "sh", "-c", `test -e ${path} && echo yes || echo no`], { encoding: "utf8" }), "no\n");
    });

    it("SystemdService: start, drift when stopped by hand, repair, delete", async () => {
        const unit = `k3sbk-local-${sudo ? "sudo" : "root"}.service`;
        const f = fileProvider();
        const s = serviceProvider();
        const unitFile = await f.create({
            target,
            path: `/etc/systemd/system/${unit}`,
            content: "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n",
            mode: "0644",
            owner: "root",
            group: "root",
            providerVersion: "1",
        });
        const inputs = { target, unit, enabled: true, active: true, restartTriggers: [], stopOnDelete: true, providerVersion: "1" };
        const created = await s.create(inputs);
        assert.deepEqual(systemctlState(unit), ["enabled", "active"]);
        systemctl("stop", unit);
        const drifted = await s.read(created.id, created.outs);
        assert.equal(drifted.props.active, false);
        assert.equal((await s.diff(created.id, drifted.props, inputs)).changes, true);
        await s.update(created.id, drifted.props, inputs);
        assert.deepEqual(systemctlState(unit), ["enabled", "active"]);
        await s.delete(created.id, created.outs);
        assert.deepEqual(systemctlState(unit), ["disabled", "inactive"]);
        await f.delete(unitFile.id, unitFile.outs);
    });
});
