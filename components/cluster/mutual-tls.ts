/**
 * The in-cluster daemon's mutual TLS, issued by the program itself from {@link tlsPlan}: an ECDSA P-256 CA,
 * a server certificate and a client certificate, X.509 v3 through @peculiar/x509 on Node's WebCrypto
 * (no Pulumi provider plugin to build or download: the TLS provider is not served where this project is
 * built and tested). Renewal follows the plan: a leaf is re-issued `earlyRenewalHours` before it expires
 * (under the same CA), the CA at its expiry (and then both leaves with it). Runs inside a dynamic provider:
 * imports nothing from Pulumi at run time.
 */
import { randomBytes, webcrypto } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { CertPlan, CertUse, tlsPlan } from "./specs";

export type TlsPlan = ReturnType<typeof tlsPlan>;

/** PEMs of one certificate and its key (the key is secret). */
export interface IssuedPem {
    readonly cert: string;
    readonly key: string;
}

type Three<T> = { readonly ca: T; readonly server: T; readonly client: T };

/** The three certificates (PEM), their keys (PEM, secret), and when each certificate stops being valid (RFC 3339). */
export interface MutualTlsMaterial {
    readonly certs: Three<string>;
    readonly keys: Three<string>;
    readonly notAfter: Three<string>;
}

type X509 = typeof import("@peculiar/x509");
/** The WebCrypto type @peculiar/x509 names (the DOM's `Crypto`), which Node's webcrypto implements. */
type WebCrypto = Parameters<X509["cryptoProvider"]["set"]>[0];
let loaded: X509 | undefined;
/**
 * @peculiar/x509 with its prerequisites: a Reflect metadata polyfill (its dependency tsyringe needs it) and
 * Node's WebCrypto as its provider. Required at run time, so a serialized dynamic provider loads them too.
 */
function x509(): X509 {
    if (loaded === undefined) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require("reflect-metadata");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        loaded = require("@peculiar/x509") as X509;
        loaded.cryptoProvider.set(webcrypto as unknown as WebCrypto);
    }
    return loaded;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const HOUR = 3_600_000;

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
    return await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

function pem(label: string, der: ArrayBuffer): string {
    const b64 = Buffer.from(der).toString("base64");
    return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join("\n")}\n-----END ${label}-----\n`;
}

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
    return pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", k));
}

/** A CA's signing key (PKCS#8 PEM) and certificate. */
async function signer(ca: IssuedPem): Promise<{ privateKey: webcrypto.CryptoKey; cert: InstanceType<X509["X509Certificate"]> }> {
    const der = Buffer.from(ca.key.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const privateKey = await webcrypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"]);
    return { privateKey, cert: new (x509().X509Certificate)(ca.cert) };
}

/** A positive 128-bit serial number, hex. */
const serial = () => `01${randomBytes(15).toString("hex")}`;

function extensions(x: X509, p: CertPlan, publicKeyExt: InstanceType<X509["SubjectKeyIdentifierExtension"]>) {
    const flags = x.KeyUsageFlags;
    const usage: Partial<Record<CertUse, number>> = {
        cert_signing: flags.keyCertSign,
        crl_signing: flags.cRLSign,
        digital_signature: flags.digitalSignature,
        key_encipherment: flags.keyEncipherment,
    };
    const keyUsage = p.uses.reduce((acc, u) => acc | (usage[u] ?? 0), 0);
    const eku = p.uses.flatMap((u) =>
        u === "server_auth" ? [x.ExtendedKeyUsage.serverAuth] : u === "client_auth" ? [x.ExtendedKeyUsage.clientAuth] : [],
    );
    return [
        new x.BasicConstraintsExtension(p.isCa, undefined, true),
        new x.KeyUsagesExtension(keyUsage, true),
        ...(eku.length === 0 ? [] : [new x.ExtendedKeyUsageExtension(eku, false)]),
        ...(p.sans === undefined
            ? []
            : [
                  new x.SubjectAlternativeNameExtension([
                      ...p.sans.dnsNames.map((value) => ({ type: "dns" as const, value })),
                      ...p.sans.ipAddresses.map((value) => ({ type: "ip" as const, value })),
                  ]),
              ]),
        publicKeyExt,
    ];
}

/** The CA: self-signed, valid from `now` for the plan's hours. */
export async function issueCa(p: CertPlan, now: Date): Promise<IssuedPem> {
    const x = x509();
    const keys = await newKeys();
    const cert = await x.X509CertificateGenerator.createSelfSigned(
        {
            serialNumber: serial(),
            name: [{ CN: [p.commonName] }],
            notBefore: now,
            notAfter: new Date(now.getTime() + p.validityHours * HOUR),
            signingAlgorithm: ALGORITHM,
            keys,
            extensions: extensions(x, p, await x.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto)),
        },
        webcrypto,
    );
    return { cert: cert.toString("pem") + "\n", key: await keyPem(keys.privateKey) };
}

/** A leaf signed by `ca`, valid from `now` for the plan's hours (never past the CA's own expiry). */
export async function issueLeaf(p: CertPlan, ca: IssuedPem, now: Date): Promise<IssuedPem> {
    const x = x509();
    const keys = await newKeys();
    const by = await signer(ca);
    const notAfter = new Date(Math.min(now.getTime() + p.validityHours * HOUR, by.cert.notAfter.getTime()));
    const cert = await x.X509CertificateGenerator.create(
        {
            serialNumber: serial(),
            subject: [{ CN: [p.commonName] }],
            issuer: by.cert.subjectName,
            notBefore: now,
            notAfter,
            signingAlgorithm: ALGORITHM,
            publicKey: keys.publicKey,
            signingKey: by.privateKey,
            extensions: [
                ...extensions(x, p, await x.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto)),
                await x.AuthorityKeyIdentifierExtension.create(by.cert, false, webcrypto),
            ],
        },
        webcrypto,
    );
    return { cert: cert.toString("pem") + "\n", key: await keyPem(keys.privateKey) };
}

/** When a certificate expires (RFC 3339). */
export function notAfterOf(certPem: string): string {
    return new (x509().X509Certificate)(certPem).notAfter.toISOString();
}

/** Whether a certificate of `plan` expiring at `notAfter` is due for re-issue at `now`. */
export function renewalDue(notAfter: string, p: CertPlan, now: Date): boolean {
    return now.getTime() >= Date.parse(notAfter) - p.earlyRenewalHours * HOUR;
}

/** The earliest moment one of the three is due (what a preview compares the clock with). */
export function renewAt(notAfter: Three<string>, plan: TlsPlan): string {
    const at = (["ca", "server", "client"] as const).map((k) => Date.parse(notAfter[k]) - plan[k].earlyRenewalHours * HOUR);
    return new Date(Math.min(...at)).toISOString();
}

/**
 * Issues what is missing or due: everything when there is no CA or the CA is due (a new CA invalidates
 * both leaves); otherwise each leaf that is due or whose plan changed, under the same CA.
 */
export async function issueMutualTls(
    plan: TlsPlan,
    now: Date,
    previous?: { readonly material: MutualTlsMaterial; readonly plan: TlsPlan },
): Promise<MutualTlsMaterial> {
    const same = (k: keyof TlsPlan) => previous !== undefined && JSON.stringify(previous.plan[k]) === JSON.stringify(plan[k]);
    const kept = (k: keyof TlsPlan): IssuedPem | undefined =>
        previous !== undefined && same(k) && !renewalDue(previous.material.notAfter[k], plan[k], now)
            ? { cert: previous.material.certs[k], key: previous.material.keys[k] }
            : undefined;
    const keptCa = kept("ca");
    const ca = keptCa ?? (await issueCa(plan.ca, now));
    const leaf = async (k: "server" | "client") => (keptCa === undefined ? undefined : kept(k)) ?? issueLeaf(plan[k], ca, now);
    const server = await leaf("server");
    const client = await leaf("client");
    return {
        certs: { ca: ca.cert, server: server.cert, client: client.cert },
        keys: { ca: ca.key, server: server.key, client: client.key },
        notAfter: { ca: notAfterOf(ca.cert), server: notAfterOf(server.cert), client: notAfterOf(client.cert) },
    };
}

export interface MutualTlsInputs {
    readonly plan: TlsPlan;
    readonly providerVersion: string;
}

/** State: the plan it was issued for, the certificates and keys (keys secret), and when it is next due. */
export interface MutualTlsState extends MutualTlsInputs, MutualTlsMaterial {
    /** The earliest re-issue (RFC 3339): a preview at or after it shows an update. */
    readonly renewAt: string;
}

const state = (inputs: MutualTlsInputs, m: MutualTlsMaterial): MutualTlsState => ({
    ...inputs,
    ...m,
    renewAt: renewAt(m.notAfter, inputs.plan),
});

/** What a preview shows for it: a changed plan, or the clock past `renewAt`; a new provider version alone is state-only. */
export function mutualTlsChanges(olds: MutualTlsState, news: MutualTlsInputs, now: Date): string[] {
    const changes: string[] = [];
    if (JSON.stringify(olds.plan) !== JSON.stringify(news.plan)) changes.push("plan");
    if (now.getTime() >= Date.parse(olds.renewAt)) changes.push("renewAt");
    if (olds.providerVersion !== news.providerVersion) changes.push("providerVersion");
    return changes;
}

/**
 * `BuildkitMutualTls`: issued on create, re-issued in place (same resource) when due or when the plan
 * changes; `pulumi refresh` reads nothing (the certificates live in state, encrypted). Its outputs feed
 * the daemon's Secrets and the pod template's hash, so a re-issue rolls the daemon in the same up.
 */
export const mutualTlsProvider: pulumi.dynamic.ResourceProvider<MutualTlsInputs, MutualTlsState> = {
    async diff(_id, olds, news) {
        return { changes: mutualTlsChanges(olds, news, new Date()).length > 0 };
    },
    async create(inputs) {
        return { id: "buildkitd-mutual-tls", outs: state(inputs, await issueMutualTls(inputs.plan, new Date())) };
    },
    async update(_id, olds, news) {
        const material = await issueMutualTls(news.plan, new Date(), { material: olds, plan: olds.plan });
        return { outs: state(news, material) };
    },
};
