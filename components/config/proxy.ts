/** Stack config: an HTTP proxy for everything that reaches out (downloads, k3s's containerd, BuildKit). */
import { HTTP_URL } from "./fields";
import { arr, obj, optional, str } from "./schema";

export const proxy = optional(
    obj(
        {
            http: optional(str({ description: "Proxy for http:// requests (HTTP_PROXY).", pattern: HTTP_URL })),
            https: optional(str({ description: "Proxy for https:// requests (HTTPS_PROXY).", pattern: HTTP_URL })),
            noProxy: arr(
                str({
                    description: "A host, domain suffix (.example.com), IP address or CIDR.",
                    maxLength: 255,
                    pattern: { regex: /^[A-Za-z0-9.*:/_-]+$/, expected: "a host, .domain, IP address or CIDR like 10.0.0.0/8" },
                }),
                {
                    description:
                        "Destinations reached directly, added to the defaults: localhost, 127.0.0.1, ::1, the cluster and service CIDRs, .svc, .cluster.local and every host's address.",
                    default: [],
                },
            ),
        },
        {
            description:
                "An HTTP proxy for the downloads, k3s (its .env: HTTP_PROXY, HTTPS_PROXY, NO_PROXY and the CONTAINERD_* forms), the host BuildKit daemons and the in-cluster one. Not a secret: use a proxy that needs no password in its URL, or one that authenticates by source address.",
        },
    ),
);
