package io.hablock.cli.command;

import io.hablock.cli.host.FsMount;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code hablock volume unmount NAME|PATH}. */
@Command(name = "unmount", aliases = "umount", mixinStandardHelpOptions = true,
        description = {"Unmount a volume mounted with `hablock volume mount` and detach it from this host "
                + "(the file system is synced by the unmount; the volume keeps it)."})
public final class VolumeUnmountCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME|PATH", description = "Volume name or mount point.")
    String target;

    @Override
    public Integer call() throws IOException {
        FsMount.State s = new FsMount(FsMount.defaultRunDir(), System.out).unmount(target);
        System.out.println("volume " + s.volume() + " unmounted from " + s.path() + " and detached (" + s.device() + ")");
        return 0;
    }
}
