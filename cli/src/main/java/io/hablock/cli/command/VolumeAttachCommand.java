package io.hablock.cli.command;

import io.hablock.cli.host.HostEndpoint;
import io.hablock.cli.host.FsMount;
import io.hablock.cli.host.KernelAttach;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.ClusterException;
import io.hablock.nativeio.nbd.KernelNbd;
import java.io.IOException;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code hablock volume attach NAME [--device /dev/nbdN]}. */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = {"Attach a volume to this host as a kernel block device /dev/nbdN, without nbd-client.",
                "Connects to this host's hablock endpoint (the node running here, which serves every volume and "
                        + "follows its owner through a failover; or --endpoint), negotiates the export, and hands "
                        + "the socket to the kernel's nbd driver (generic netlink, or the NBD ioctls on old "
                        + "kernels: then this command stays in the foreground until detach). Prints the device, "
                        + "and records it in the cluster (volume ls: ATTACHED).",
                "Needs root and the nbd kernel module (modprobe nbd); without it, fails before doing anything."})
public final class VolumeAttachCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions options;

    @Mixin
    EndpointOption endpointOption;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name.")
    String name;

    @Mixin
    KernelDeviceOptions deviceOptions;

    @Override
    public Integer call() throws IOException, ClusterException, InterruptedException {
        KernelNbd kernel = KernelNbd.system();
        kernel.checkAvailable(); // before any side effect: no connection, nothing in ZooKeeper
        OptionalInt index = deviceOptions.index();
        Duration ioTimeout = deviceOptions.ioTimeout();
        KernelAttach.Attached attached;
        try (ClusterClient cluster = options.connect()) {
            HostEndpoint endpoint = endpointOption.resolve(cluster, name);
            attached = KernelAttach.attach(kernel, endpoint.address(), options.cluster, name, index, ioTimeout);
            FsMount.recordAttachment(cluster, name, attached.client().map(Set::of).orElse(Set.of()),
                    kernel.device(attached.index()).toString(), System.out);
        }
        System.out.println(kernel.device(attached.index()));
        System.out.flush();
        kernel.awaitDetached(attached.index()); // returns at once unless the ioctl path needs this process
        return 0;
    }
}
