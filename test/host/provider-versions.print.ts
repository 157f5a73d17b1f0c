/** Prints every dynamic provider's derived version as JSON (run by provider-version.test.ts in its own process). */
import { buildResultProvider } from "../../components/builds/build-result-provider";
import { hostBuildProvider } from "../../components/host/host-build-provider";
import { hostFileProvider } from "../../components/host/host-file-provider";
import { systemdServiceProvider } from "../../components/host/host-service-provider";
import { hostStepProvider, hostUploadProvider } from "../../components/host/step-provider";
import { tokenProvider } from "../../components/host/token";
import { providerVersion } from "../../components/provider-version";

export const PROVIDERS = {
    hostFile: hostFileProvider,
    systemdService: systemdServiceProvider,
    hostStep: hostStepProvider,
    hostUpload: hostUploadProvider,
    token: tokenProvider,
    hostBuild: hostBuildProvider,
    buildResult: buildResultProvider,
};

export async function versions(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [k, p] of Object.entries(PROVIDERS)) out[k] = await providerVersion(p);
    return out;
}

if (require.main === module) void versions().then((v) => process.stdout.write(JSON.stringify(v)));
