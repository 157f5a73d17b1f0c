/**
 * K3sCertificates: the earliest expiry of a node's k3s certificates, from k3s's own `k3s certificate check
 * --output json` (its JSON shape as pkg/cli/cert/cert.go writes it). The read script is run by a real bash
 * against the fixture k3s; a k3s without the command (older releases) answers nothing, not an error.
 * Rotation: due once the recorded expiry is inside the window; the diff says so (an update of `expiresAt`),
 * and the rotate script runs k3s's own `certificate rotate` after stopping the unit.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
    certificateCheckScript,
    certificateRotateScript,
    certificatesChanges,
    k3sCertificatesProvider,
    parseCertificateCheck,
    rotationDue,
} from "../../components/host/certificates-provider";

const dir = mkdtempSync(join(tmpdir(), "k3s-certs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the read script with `k3s` on PATH being `k3s` (a file) and the data directory `dataDir`. */
function readWith(k3s: string, dataDir: string): string {
    const bin = mkdtempSync(join(dir, "bin-"));
    copyFileSync(k3s, join(bin, "k3s"));
    chmodSync(join(bin, "k3s"), 0o755);
    const r = spawnSync("bash", ["-c", `set -euo pipefail\n${certificateCheckScript(dataDir)}`], {
        env: { PATH: `${bin}:/usr/bin:/bin` },
        encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
}

describe("k3s certificates' expiry", () => {
    it("the earliest ExpiryTime of k3s's JSON, with the count", () => {
        const out = JSON.stringify({
            Certificates: [
                { Filename: "client-admin.crt", ExpiryTime: "2027-03-01T10:00:00Z", Status: "OK" },
                { Filename: "serving-kube-apiserver.crt", ExpiryTime: "2027-01-15T08:30:00Z", Status: "OK" },
                { Filename: "client-ca.crt", ExpiryTime: "2036-01-01T00:00:00Z", Status: "OK" },
            ],
        });
        assert.deepEqual(parseCertificateCheck(`${out}\n`), { expiresAt: "2027-01-15T08:30:00Z", count: 3 });
        assert.deepEqual(parseCertificateCheck('{"Certificates":null}\n'), { expiresAt: "", count: 0 });
        assert.deepEqual(parseCertificateCheck(""), { expiresAt: "", count: 0 });
    });

    it("read through bash from the fixture k3s: a server's and an agent's", () => {
        const fixture = join(__dirname, "..", "fixtures", "k3s-fixture.sh");
        const expiry = Math.floor(Date.parse("2027-06-01T12:00:00Z") / 1000);
        mkdirSync(join(dir, "srv", "server", "tls"), { recursive: true });
        writeFileSync(join(dir, "srv", "server", "tls", "fixture-certs"), `${expiry}\n`);
        assert.deepEqual(parseCertificateCheck(readWith(fixture, join(dir, "srv"))), { expiresAt: "2027-06-01T12:00:00Z", count: 1 });
        mkdirSync(join(dir, "agt", "agent"), { recursive: true });
        writeFileSync(join(dir, "agt", "agent", "fixture-certs"), `${expiry + 60}\n`);
        assert.deepEqual(parseCertificateCheck(readWith(fixture, join(dir, "agt"))), { expiresAt: "2027-06-01T12:01:00Z", count: 1 });
    });

    it("a k3s without `certificate check` answers nothing, and the read does not fail", () => {
        const old = join(dir, "old-k3s");
        writeFileSync(old, '#!/bin/sh\necho "Incorrect Usage: flag provided but not defined" >&2\nexit 1\n');
        assert.deepEqual(parseCertificateCheck(readWith(old, "/data/k3s")), { expiresAt: "", count: 0 });
    });

    it("a new key changes nothing on the host; another host or data directory reads again", () => {
        const target = {
            kind: "ssh" as const,
            host: "10.0.0.5",
            port: 22,
            user: "debian",
            sudo: true,
            privateKey: "k1",
            dialErrorLimit: 10,
            dialTimeoutSeconds: 15,
        };
        const base = { target, dataDir: "/data/k3s", providerVersion: "v1" };
        assert.deepEqual(certificatesChanges(base, { ...base, target: { ...target, privateKey: "k2" } }), ["credentials"]);
        assert.deepEqual(certificatesChanges(base, { ...base, dataDir: "/srv/k3s" }), ["dataDir"]);
        assert.deepEqual(certificatesChanges(base, { ...base, target: { ...target, host: "10.0.0.6" } }), ["target"]);
    });
});

describe("k3s certificates' rotation window", () => {
    const now = Date.parse("2027-01-01T00:00:00Z");
    const plan = { daysBefore: 60, unit: "k3s.service", startTimeoutSeconds: 300, drainScript: "drain", readyScript: "ready" };
    const base = { target: { kind: "local" as const, sudo: false }, dataDir: "/data/k3s", providerVersion: "v1", rotation: plan };
    const state = (expiresAt: string) => ({ ...base, expiresAt, count: 1 });

    it("due inside the window only; never when the window is 0 or the expiry unknown", () => {
        assert.equal(rotationDue("2027-02-28T23:59:59Z", 60, now), true, "59.99 days left");
        assert.equal(rotationDue("2027-03-02T00:00:00Z", 60, now), false, "60 days left");
        assert.equal(rotationDue("2026-12-01T00:00:00Z", 60, now), true, "already expired");
        assert.equal(rotationDue("2027-01-02T00:00:00Z", 0, now), false, "0: never");
        assert.equal(rotationDue("", 60, now), false, "k3s reported none");
    });

    it("the diff asks for an update of expiresAt once inside the window (and not before); a new plan alone is no change", async () => {
        const soon = new Date(Date.now() + 10 * 86_400_000).toISOString();
        const later = new Date(Date.now() + 300 * 86_400_000).toISOString();
        const d = k3sCertificatesProvider.diff;
        assert.ok(d !== undefined);
        assert.deepEqual(await d("id", state(soon), base), {
            changes: true,
            detailedDiff: { expiresAt: { kind: "update", inputDiff: false } },
        });
        assert.deepEqual(await d("id", state(later), base), { changes: false });
        assert.deepEqual(await d("id", state(soon), { ...base, rotation: { ...plan, daysBefore: 0 } }), { changes: false }, "0: never");
        // How a rotation happens (the window, its scripts, the version they wait for) is no change by itself.
        assert.deepEqual(await d("id", state(later), { ...base, rotation: { ...plan, daysBefore: 30, readyScript: "ready v2" } }), {
            changes: false,
        });
        // A stack recorded before rotation existed: nothing due, the plan is recorded.
        const before = { target: base.target, dataDir: base.dataDir, providerVersion: base.providerVersion };
        assert.deepEqual(await d("id", { ...before, expiresAt: soon, count: 1 }, { ...before }), { changes: false });
    });

    it("the rotate script stops the unit, then k3s rotates: the fixture removes the certificates, the next start makes new ones", () => {
        const bin = mkdtempSync(join(dir, "rot-"));
        copyFileSync(join(__dirname, "..", "fixtures", "k3s-fixture.sh"), join(bin, "k3s"));
        chmodSync(join(bin, "k3s"), 0o755);
        writeFileSync(join(bin, "systemctl"), '#!/bin/sh\necho "systemctl $*" >> "$LOG"\n', { mode: 0o755 });
        const data = join(dir, "rot-data");
        mkdirSync(join(data, "server", "tls"), { recursive: true });
        writeFileSync(join(data, "server", "tls", "fixture-certs"), "1800000000\n");
        const log = join(dir, "rot-log");
        const r = spawnSync("bash", ["-c", `set -euo pipefail\n${certificateRotateScript("k3s.service", data)}`], {
            env: { PATH: `${bin}:/usr/bin:/bin`, LOG: log },
            encoding: "utf8",
        });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(readFileSync(log, "utf8"), "systemctl stop -- k3s.service\n");
        assert.equal(existsSync(join(data, "server", "tls", "fixture-certs")), false, "the certificates are gone until k3s starts");
        assert.deepEqual(parseCertificateCheck(readWith(join(bin, "k3s"), data)), { expiresAt: "", count: 0 });
    });
});
