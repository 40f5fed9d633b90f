package io.hablock.cli;

import io.hablock.cli.command.ClusterCommand;
import io.hablock.cli.command.DemoCommand;
import io.hablock.cli.command.EventsCommand;
import io.hablock.cli.command.NodeCommand;
import io.hablock.cli.command.ServerCommand;
import io.hablock.cli.command.VolumeCommand;
import io.hablock.cli.command.ZooKeeperCommand;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code hablock} command. */
@Command(name = "hablock", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Highly available block volumes served over NBD.",
        subcommands = {ServerCommand.class, NodeCommand.class, VolumeCommand.class, EventsCommand.class,
                ClusterCommand.class, ZooKeeperCommand.class, DemoCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit status for an error the user can fix (bad input, node unreachable, ...). */
    public static final int EXIT_ERROR = 1;

    public static void main(String[] args) {
        boolean server = args.length > 0 && (args[0].equals("server") || args[0].equals("zookeeper"));
        // Before any logger exists: the server logs at INFO, client commands keep stdout clean.
        System.setProperty("hablock.log.level", server ? "INFO" : "WARN");
        System.setProperty("hablock.zk.log.level", server ? "WARN" : "OFF");
        // With the jar's Add-Opens, Netty may then allocate direct memory without zeroing it.
        System.setProperty("io.netty.tryReflectionSetAccessible", "true");
        // Threads keep a few payload-sized buffers (up to 1 MiB) for reuse instead of returning
        // them to the arena, which unmaps emptied chunks: fewer page faults on large I/O.
        defaultProperty("io.netty.allocator.maxCachedBufferCapacity", "1048576");
        defaultProperty("io.netty.allocator.normalCacheSize", "4");
        System.exit(run(args));
    }

    private static void defaultProperty(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** Runs the command line and returns the exit status (for tests). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + oneLine(e));
            return EXIT_ERROR;
        });
        // Usage mistakes get one line and a pointer to --help, not a page of usage text.
        cli.setParameterExceptionHandler((e, params) -> {
            CommandLine cmd = e.getCommandLine();
            cmd.getErr().println("error: " + oneLine(e) + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        return cli.execute(args);
    }

    static String oneLine(Throwable e) {
        if (e instanceof FileSystemException f) {
            return fileProblem(f);
        }
        String message = e.getMessage();
        if (message == null || message.isBlank()) {
            message = e.getClass().getSimpleName();
        }
        return message.lines().findFirst().orElse(message);
    }

    /** Java's file errors say only the path: {@code permission denied: /var/lib/hablock}. */
    private static String fileProblem(FileSystemException f) {
        String what = f instanceof AccessDeniedException ? "permission denied"
                : f instanceof NoSuchFileException ? "no such file or directory"
                : f instanceof FileAlreadyExistsException ? "already exists"
                : f instanceof NotDirectoryException ? "not a directory"
                : f.getReason() == null ? f.getClass().getSimpleName() : f.getReason();
        String path = f.getFile() == null ? "" : ": " + f.getFile() + (f.getOtherFile() == null ? "" : " -> " + f.getOtherFile());
        return what + path;
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /** The version from the jar's manifest, or "dev". */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"hablock " + (v == null ? "dev" : v)};
        }
    }
}
