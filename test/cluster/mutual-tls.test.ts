/**
 * The in-cluster daemon's mutual TLS, issued by the program (components/cluster/mutual-tls.ts): what
 * openssl and Node's own X.509 parser read in the certificates, renewal (a leaf early under the same CA,
 * the CA at expiry with both leaves), the provider's preview, and its serialized code issuing on its own
 * (as the engine runs it from state). Real BuildKit serves and refuses with these certificates in
 * test/real-host/buildkit.scenario.ts.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
    issueMutualTls,
    mutualTlsChanges,
    mutualTlsProvider,
    type MutualTlsMaterial,
    type MutualTlsState,
    renewAt,
} from "../../components/cluster/mutual-tls";
import { tlsPlan } from "../../components/cluster/specs";
import { serializedProvider } from "../../components/provider-version";

const plan = tlsPlan("buildkit");
const HOUR = 3_600_000;
const T0 = new Date("2026-12-05T12:00:00Z");
let m: MutualTlsMaterial;
const dir = mkdtempSync(join(tmpdir(), "k3sbk-mtls-"));
before(async () => {
    m = await issueMutualTls(plan, T0);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, encoding: "utf8" });
const text = (pem: string, name: string) => {
    writeFileSync(join(dir, name), pem);
    return openssl("x509", "-in", name, "-noout", "-text");
};

describe("the daemon's mutual TLS, issued by the program", () => {
    it("openssl verifies both leaves against the CA; each carries the plan's names, usages and validity", () => {
        writeFileSync(join(dir, "ca.pem"), m.certs.ca);
        writeFileSync(join(dir, "server.pem"), m.certs.server);
        writeFileSync(join(dir, "client.pem"), m.certs.client);
        assert.equal(openssl("verify", "-CAfile", "ca.pem", "server.pem", "client.pem"), "server.pem: OK\nclient.pem: OK\n");
        const ca = text(m.certs.ca, "ca.pem");
        assert.match(ca, /Subject: CN ?= ?k3s-buildkit buildkitd CA/);
        assert.match(ca, /Basic Constraints: critical\n\s+CA:TRUE/);
        assert.match(ca, /Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign/);
        assert.match(ca, /ecdsa-with-SHA256/);
        assert.match(ca, /NIST CURVE: P-256/);
        const server = text(m.certs.server, "server.pem");
        assert.match(server, /Subject: CN ?= ?buildkitd\.buildkit\.svc/);
        assert.match(server, /CA:FALSE/);
        assert.match(server, /Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
        assert.match(
            server,
            /DNS:buildkitd, DNS:buildkitd\.buildkit, DNS:buildkitd\.buildkit\.svc, DNS:buildkitd\.buildkit\.svc\.cluster\.local, DNS:\*\.buildkitd-headless\.buildkit\.svc, DNS:\*\.buildkitd-headless\.buildkit\.svc\.cluster\.local, DNS:localhost, IP Address:127\.0\.0\.1/,
        );
        assert.match(text(m.certs.client, "client.pem"), /Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
        // Validity from the plan's hours.
        assert.deepEqual(m.notAfter, {
            ca: new Date(T0.getTime() + plan.ca.validityHours * HOUR).toISOString(),
            server: new Date(T0.getTime() + plan.server.validityHours * HOUR).toISOString(),
            client: new Date(T0.getTime() + plan.client.validityHours * HOUR).toISOString(),
        });
    });

    it("Node's X.509 parser agrees: issued by the CA, signed with its key; each key is its certificate's", () => {
        const ca = new X509Certificate(m.certs.ca);
        for (const id of ["server", "client"] as const) {
            const leaf = new X509Certificate(m.certs[id]);
            assert.ok(leaf.checkIssued(ca), `${id} issued by the CA`);
            assert.ok(leaf.verify(ca.publicKey), `${id} signed by the CA's key`);
            assert.ok(leaf.checkPrivateKey(createPrivateKey(m.keys[id])), `${id} key matches`);
        }
        assert.ok(new X509Certificate(m.certs.server).checkHost("buildkitd-1.buildkitd-headless.buildkit.svc"), "a replica's name");
        assert.ok(ca.checkPrivateKey(createPrivateKey(m.keys.ca)));
        assert.match(m.keys.server, /^-----BEGIN PRIVATE KEY-----\n/);
    });

    it("renewal: nothing due keeps everything; a leaf due is re-issued under the same CA; the CA due re-issues all three", async () => {
        assert.deepEqual(await issueMutualTls(plan, new Date(T0.getTime() + HOUR), { material: m, plan }), m, "nothing due");
        const leafDue = new Date(Date.parse(m.notAfter.server) - plan.server.earlyRenewalHours * HOUR + HOUR);
        assert.equal(
            renewAt(m.notAfter, plan),
            new Date(Date.parse(m.notAfter.server) - plan.server.earlyRenewalHours * HOUR).toISOString(),
        );
        const renewed = await issueMutualTls(plan, leafDue, { material: m, plan });
        assert.equal(renewed.certs.ca, m.certs.ca, "the same CA: clients keep trusting it");
        assert.notEqual(renewed.certs.server, m.certs.server);
        assert.notEqual(renewed.certs.client, m.certs.client);
        assert.ok(new X509Certificate(renewed.certs.server).checkIssued(new X509Certificate(m.certs.ca)));
        assert.ok(Date.parse(renewed.notAfter.server) > Date.parse(m.notAfter.server));
        const caDue = new Date(Date.parse(m.notAfter.ca) + HOUR);
        const all = await issueMutualTls(plan, caDue, { material: m, plan });
        assert.notEqual(all.certs.ca, m.certs.ca);
        assert.ok(new X509Certificate(all.certs.server).checkIssued(new X509Certificate(all.certs.ca)), "leaves under the new CA");
        // A leaf never outlives its CA.
        const late = await issueMutualTls(plan, new Date(Date.parse(m.notAfter.ca) - 100 * 24 * HOUR), { material: m, plan });
        assert.equal(late.certs.ca, m.certs.ca);
        assert.equal(late.notAfter.server, m.notAfter.ca);
        // Another namespace changes the server's names: the server is re-issued, the client and CA kept.
        const other = tlsPlan("builds");
        const moved = await issueMutualTls({ ...plan, server: other.server }, new Date(T0.getTime() + HOUR), { material: m, plan });
        assert.deepEqual(
            [moved.certs.ca === m.certs.ca, moved.certs.server === m.certs.server, moved.certs.client === m.certs.client],
            [true, false, true],
        );
    });

    it("preview: no change until renewAt; then an update (same resource), as for a changed plan; a new provider version alone is state-only", () => {
        const s: MutualTlsState = { plan, providerVersion: "v1", ...m, renewAt: renewAt(m.notAfter, plan) };
        const inputs = { plan, providerVersion: "v1" };
        assert.deepEqual(mutualTlsChanges(s, inputs, new Date(Date.parse(s.renewAt) - 1000)), []);
        assert.deepEqual(mutualTlsChanges(s, inputs, new Date(s.renewAt)), ["renewAt"]);
        assert.deepEqual(mutualTlsChanges(s, { ...inputs, plan: tlsPlan("other") }, T0), ["plan"]);
        assert.deepEqual(mutualTlsChanges(s, { ...inputs, providerVersion: "v2" }, T0), ["providerVersion"]);
    });

    it("the serialized provider issues on its own (as the engine runs it from state), and an update with nothing due keeps the certificates", async () => {
        const load = mkdtempSync(join(__dirname, "../../node_modules/.k3sbk-provider-"));
        writeFileSync(join(load, "provider.js"), await serializedProvider(mutualTlsProvider));
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const loaded = require(join(load, "provider.js")) as { handler: () => typeof mutualTlsProvider };
        rmSync(load, { recursive: true, force: true });
        const p = loaded.handler();
        const created = await p.create({ plan, providerVersion: "v1" });
        assert.ok(new X509Certificate(created.outs!.certs.server).checkIssued(new X509Certificate(created.outs!.certs.ca)));
        const updated = await p.update!(created.id, created.outs!, { plan, providerVersion: "v2" });
        assert.deepEqual(updated.outs?.certs, created.outs!.certs, "a new provider version re-issues nothing (no roll)");
        assert.equal(updated.outs?.providerVersion, "v2");
    });
});
