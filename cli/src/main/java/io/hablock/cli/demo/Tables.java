package io.hablock.cli.demo;

import io.hablock.cli.command.EventsCommand;
import io.hablock.cli.command.NodeLsCommand;
import io.hablock.cli.command.VolumeLsCommand;
import io.hablock.cli.command.VolumeVerifyCommand;
import picocli.CommandLine;

/** The CLI's own commands, run in this JVM against the demo's cluster: what a user would type. */
final class Tables {
    private final String zk;
    private final Narrator narrator;

    Tables(String zk, Narrator narrator) {
        this.zk = zk;
        this.narrator = narrator;
    }

    void nodes() {
        run("node ls", new NodeLsCommand());
    }

    void volumes() {
        run("volume ls", new VolumeLsCommand());
    }

    void events(int n) {
        run("events", new EventsCommand(), "-n", String.valueOf(n));
    }

    /** {@code volume verify NAME}; true when the copies are identical. */
    boolean verify(String volume) {
        return run("volume verify " + volume, new VolumeVerifyCommand(), volume) == 0;
    }

    private int run(String what, Object command, String... args) {
        narrator.print("$ hablock " + what);
        String[] argv = new String[args.length + 2];
        System.arraycopy(args, 0, argv, 0, args.length);
        argv[args.length] = "--zk";
        argv[args.length + 1] = zk;
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            narrator.print("error: " + e.getMessage());
            return 1;
        });
        int status = cli.execute(argv);
        System.out.flush();
        return status;
    }
}
