package io.hablock.cli.command;

import io.hablock.nativeio.nbd.KernelNbd;
import java.time.Duration;
import java.util.OptionalInt;
import picocli.CommandLine.Option;

/** {@code --device} and {@code --timeout} of the commands that attach a kernel NBD device. */
public final class KernelDeviceOptions {
    @Option(names = "--device", paramLabel = "/dev/nbdN",
            description = "The kernel NBD device to use (default: the first free one).")
    String device;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "30s",
            description = "Kernel I/O timeout, also how long a dead connection may wait to be replaced "
                    + "(whole seconds; default ${DEFAULT-VALUE}).")
    String timeout;

    OptionalInt index() {
        return device == null ? OptionalInt.empty() : OptionalInt.of(KernelNbd.indexOf(device));
    }

    Duration ioTimeout() {
        return Durations.parse(timeout, "--timeout");
    }
}
