/**
 * Stack config: the hosts (machines) and how to reach them. A host is one of two shapes, told apart by
 * `connection`: over SSH (an address, a user, a bastion…) or the machine that runs Pulumi (none of those).
 */
import { HOST_KEY, HOST_NAME, hostOrIp, UNIX_USER } from "./fields";
import { bool, int, json, literal, obj, oneOf, optional, str } from "./schema";

export const bastion = obj(
    {
        address: hostOrIp("Bastion host address."),
        port: int({ description: "Bastion SSH port.", default: 22, min: 1, max: 65535 }),
        user: str({ description: "Bastion SSH user.", default: "root", pattern: UNIX_USER }),
        hostKey: optional(str({ description: "Pinned bastion host key.", pattern: HOST_KEY })),
    },
    { description: "Reach the host through this SSH bastion (jump host); it uses the same private key." },
);

/** Keys of every host, whatever its connection. */
const common = {
    name: str({ description: "Unique name of the host; used in resource names.", pattern: HOST_NAME }),
    role: str({ description: "k3s role of the host.", enum: ["server", "agent"] as const, default: "server" }),
    sudo: optional(
        bool({
            description:
                "Run scripts through passwordless `sudo -n` (default: true unless the user is root; for local hosts, unless Pulumi runs as root).",
        }),
    ),
    apiAddress: optional(
        hostOrIp("Address other nodes and the kubeconfig use to reach this server's API (default: address; 127.0.0.1 for a local host)."),
    ),
    k3sConfig: optional(
        json({
            description:
                "k3s config.yaml keys for this host only (labels, taints: `node-label`, `node-taint`), merged last over k3s.extraConfig and serverConfig/agentConfig.",
        }),
    ),
};

const CONNECTION = "How to reach the host: over SSH, or the machine that runs Pulumi.";

export const sshHost = obj(
    {
        name: common.name,
        role: common.role,
        connection: literal({ description: CONNECTION, enum: ["ssh"] as const, default: "ssh" }),
        address: hostOrIp("IP address or DNS name to SSH to (ssh hosts only).", {
            requiredMessage: `is required when connection is "ssh": set the host's IP address or DNS name`,
        }),
        port: optional(int({ description: "SSH port (default: sshPort).", min: 1, max: 65535 })),
        user: optional(str({ description: "SSH user (default: sshUser).", pattern: UNIX_USER })),
        sudo: common.sudo,
        hostKey: optional(str({ description: "Pinned SSH host key; without it the host key is not checked.", pattern: HOST_KEY })),
        bastion: optional(bastion),
        dialErrorLimit: int({
            description: "SSH connection attempts before giving up (hosts still booting).",
            default: 10,
            min: 1,
            max: 1000,
        }),
        dialTimeoutSeconds: int({ description: "Seconds per SSH connection attempt.", default: 15, min: 1, max: 600 }),
        apiAddress: common.apiAddress,
        k3sConfig: common.k3sConfig,
    },
    { description: "A machine reached over SSH." },
);

/** What only SSH hosts have: refused on a local host, with the way out. */
const SSH_ONLY = ["address", "port", "user", "hostKey", "bastion", "dialErrorLimit", "dialTimeoutSeconds"];

export const localHost = obj(
    { ...common, connection: literal({ description: CONNECTION, enum: ["local"] as const }) },
    {
        description: "The machine that runs Pulumi.",
        notUsed: { keys: SSH_ONLY, message: `is not used when connection is "local"; remove it, or set connection: ssh` },
    },
);

export const host = oneOf("connection", [sshHost, localHost], { description: "A machine to manage." });
