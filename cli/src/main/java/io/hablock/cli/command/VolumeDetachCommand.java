package io.hablock.cli.command;

import io.hablock.cli.host.KernelAttach;
import io.hablock.nativeio.nbd.KernelNbd;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hablock volume detach NAME|/dev/nbdN}. */
@Command(name = "detach", mixinStandardHelpOptions = true,
        description = {"Detach a volume attached with 'volume attach': the kernel disconnects /dev/nbdN "
                + "(unmount it first: outstanding I/O fails).",
                "Give the device, or the volume name (found through /sys/block/nbdN/backend).",
                "Needs root and the nbd kernel module (modprobe nbd)."})
public final class VolumeDetachCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Parameters(index = "0", paramLabel = "NAME|/dev/nbdN", description = "Volume name or NBD device.")
    String target;

    @Override
    public Integer call() throws IOException {
        KernelNbd kernel = KernelNbd.system();
        kernel.checkAvailable();
        int index;
        if (target.startsWith("/dev/") || target.matches("nbd\\d+")) {
            index = KernelNbd.indexOf(target);
        } else {
            index = kernel.findByBackend(KernelAttach.backendIdentifier(options.cluster, target))
                    .orElseThrow(() -> new IOException("volume '" + target + "' is not attached on this host"));
        }
        kernel.detach(index);
        System.out.println(kernel.device(index) + " detached");
        return 0;
    }
}
