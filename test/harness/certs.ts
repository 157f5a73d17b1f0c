/**
 * The in-cluster daemon's certificates, issued with openssl from the program's own plan
 * (components/cluster/specs.ts `tlsPlan`): the same subjects, SANs, key usages and validity the
 * component asks `@pulumi/tls` for, so the real-host tests can run buildkitd and buildctl on them.
 * (`@pulumi/tls`'s plugin cannot be built here: see the engine script.)
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CertPlan, CertUse } from "../../components/cluster/specs";

export interface IssuedPair {
    readonly cert: string;
    readonly key: string;
}

const keyUsage: Partial<Record<CertUse, string>> = {
    cert_signing: "keyCertSign",
    crl_signing: "cRLSign",
    digital_signature: "digitalSignature",
    key_encipherment: "keyEncipherment",
};
const extendedKeyUsage: Partial<Record<CertUse, string>> = { server_auth: "serverAuth", client_auth: "clientAuth" };

/** The x509v3 extensions a plan asks for, as an openssl extension file. */
export function opensslExtensions(p: CertPlan): string {
    const ku = p.uses.flatMap((u) => keyUsage[u] ?? []);
    const eku = p.uses.flatMap((u) => extendedKeyUsage[u] ?? []);
    const san = p.sans === undefined ? [] : [...p.sans.dnsNames.map((d) => `DNS:${d}`), ...p.sans.ipAddresses.map((i) => `IP:${i}`)];
    return [
        `basicConstraints = critical, CA:${p.isCa ? "TRUE" : "FALSE"}`,
        ...(ku.length > 0 ? [`keyUsage = critical, ${ku.join(", ")}`] : []),
        ...(eku.length > 0 ? [`extendedKeyUsage = ${eku.join(", ")}`] : []),
        ...(san.length > 0 ? [`subjectAltName = ${san.join(", ")}`] : []),
        "",
    ].join("\n");
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

/** Issues the CA, server and client of `plan` in `dir` (ECDSA P-256); returns the PEMs. */
export function issueFromPlan(
    plan: { ca: CertPlan; server: CertPlan; client: CertPlan },
    dir: string,
): {
    ca: string;
    server: IssuedPair;
    client: IssuedPair;
} {
    const genKey = (name: string) => openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
    const days = (p: CertPlan) => String(Math.max(1, Math.floor(p.validityHours / 24)));
    genKey("ca");
    writeFileSync(join(dir, "ca.ext"), opensslExtensions(plan.ca));
    openssl(["req", "-new", "-key", "ca.key", "-subj", `/CN=${plan.ca.commonName}`, "-out", "ca.csr"], dir);
    openssl(["x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-days", days(plan.ca), "-extfile", "ca.ext", "-out", "ca.pem"], dir);
    const leaf = (id: "server" | "client"): IssuedPair => {
        const p = plan[id];
        genKey(id);
        writeFileSync(join(dir, `${id}.ext`), opensslExtensions(p));
        openssl(["req", "-new", "-key", `${id}.key`, "-subj", `/CN=${p.commonName}`, "-out", `${id}.csr`], dir);
        openssl(
            ["x509", "-req", "-in", `${id}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", days(p)].concat([
                "-extfile",
                `${id}.ext`,
                "-out",
                `${id}.pem`,
            ]),
            dir,
        );
        return { cert: readFileSync(join(dir, `${id}.pem`), "utf8"), key: readFileSync(join(dir, `${id}.key`), "utf8") };
    };
    return { ca: readFileSync(join(dir, "ca.pem"), "utf8"), server: leaf("server"), client: leaf("client") };
}
