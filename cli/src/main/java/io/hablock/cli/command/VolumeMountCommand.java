package io.hablock.cli.command;

import io.hablock.cli.host.FsMount;
import io.hablock.cli.host.HostEndpoint;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.nativeio.nbd.KernelNbd;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hablock volume mount NAME PATH [--fs ext4|xfs] [--via kernel|fuse]}. */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Mount a volume's file system at PATH on this host, making the file system first if the volume "
                + "is blank (no signature blkid knows and zeros at its start); a volume holding other data is refused.",
                "The volume is reached through this host's hablock endpoint (--endpoint to choose another): "
                        + "the mount survives a failover of the owner. Give PATH to a container with a bind mount: "
                        + "docker run -v PATH:/var/lib/mysql ...",
                "--via kernel (default) attaches /dev/nbdN (needs the nbd kernel module: modprobe nbd); "
                        + "--via fuse needs no kernel module: nbdfuse shows the volume as a file, a loop device "
                        + "makes it a block device (slower; for hosts without nbd).",
                "Undo with `hablock volume unmount NAME|PATH`. Needs root."})
public final class VolumeMountCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Mixin
    EndpointOption endpointOption;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Parameters(index = "1", paramLabel = "PATH", description = "Mount point (created if missing).")
    Path path;

    @Option(names = "--fs", paramLabel = "ext4|xfs", defaultValue = "ext4",
            description = "File system to make on a blank volume (default ${DEFAULT-VALUE}).")
    String fs;

    @Option(names = "--via", paramLabel = "kernel|fuse", defaultValue = "kernel",
            description = "How the volume becomes a block device here (default ${DEFAULT-VALUE}).")
    String via;

    @Mixin
    KernelDeviceOptions deviceOptions; // with --via kernel

    @Override
    public Integer call() throws IOException, ClusterException {
        if (!fs.equals("ext4") && !fs.equals("xfs")) {
            throw new IllegalArgumentException("--fs must be ext4 or xfs");
        }
        FsMount.Via how = switch (via) {
            case "kernel" -> FsMount.Via.KERNEL;
            case "fuse" -> FsMount.Via.FUSE;
            default -> throw new IllegalArgumentException("--via must be kernel or fuse");
        };
        OptionalInt index = deviceOptions.index();
        Duration ioTimeout = deviceOptions.ioTimeout();
        KernelNbd kernel = FsMount.preflight(how, fs); // before any side effect
        try (ClusterClient cluster = options.connect()) {
            HostEndpoint endpoint = endpointOption.resolve(cluster, name);
            FsMount.State s = new FsMount(FsMount.defaultRunDir(), System.out).mount(cluster, options.cluster, name, path, fs,
                    how, kernel, endpoint, index, ioTimeout);
            System.out.println("volume " + name + " mounted at " + s.path() + " (" + s.fsType() + " on " + s.device()
                    + (how == FsMount.Via.FUSE ? " over nbdfuse" : "") + ", through " + endpoint.describe() + ")");
        }
        return 0;
    }
}
