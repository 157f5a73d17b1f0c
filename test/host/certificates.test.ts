/**
 * K3sCertificates: the earliest expiry of a node's k3s certificates, from k3s's own `k3s certificate check
 * --output json` (its JSON shape as pkg/cli/cert/cert.go writes it). The read script is run by a real bash
 * against the fixture k3s; a k3s without the command (older releases) answers nothing, not an error.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { certificateCheckScript, certificatesChanges, parseCertificateCheck } from "../../components/host/certificates-provider";

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
