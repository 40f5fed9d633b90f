package io.hablock.cli.acceptance;

import static io.hablock.cli.acceptance.support.QemuIo.read;
import static io.hablock.cli.acceptance.support.QemuIo.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.hablock.cli.acceptance.support.Command;
import io.hablock.cli.acceptance.support.CommandResult;
import io.hablock.cli.acceptance.support.QemuIo;
import io.hablock.cli.acceptance.support.ServerProcess;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14's findings 4 to 6 against a real node process: raw sockets that pipeline without
 * reading, stop half-way or only connect, and real clients that must be served meanwhile.
 */
class HostileClientsTest {
    private static final int REQUEST_MAGIC = 0x25609513;
    private static final long IHAVEOPT = 0x49484156454F5054L;

    @TempDir
    Path dir;

    /**
     * Three connections each pipeline 2,340 READs of 256 KiB and never read a reply (on the old
     * server they took all 1.6 GiB and a 512 MiB direct-memory pool ran out): the node holds to
     * its in-flight limits, and qemu-io writes and reads back meanwhile.
     */
    @Test
    void pipelinedReadsNeverReadLeaveRoomForOtherClients() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), "512m")) {
            server.createVolume("v", "64M");
            long before = rssMib(server.pid());
            List<Socket> attackers = new ArrayList<>();
            try {
                for (int k = 0; k < 3; k++) {
                    Socket s = exportName(server.nbdPort(), InetAddress.getLoopbackAddress(), "v");
                    attackers.add(s);
                    DataOutputStream out = new DataOutputStream(s.getOutputStream());
                    byte[] requests = new byte[2340 * 28];
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(requests);
                    for (int i = 0; i < 2340; i++) {
                        b.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) 0).putLong(i)
                                .putLong((long) (i % 200) * (256 << 10)).putInt(256 << 10);
                    }
                    out.write(requests);
                    out.flush();
                }
                AtomicLong last = new AtomicLong();
                await().pollInterval(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(60)).until(() -> {
                    long now = rssMib(server.pid());
                    return Math.abs(now - last.getAndSet(now)) <= 2;
                });
                long during = rssMib(server.pid());
                System.out.printf("server RSS: %d MiB before, %d MiB with 3 connections of 2,340 pipelined 256 KiB READs%n",
                        before, during);

                String uri = server.nbdUri("v");
                CommandResult io = QemuIo.verify(uri, List.of(write(0xab, 32 << 20, 1 << 20), read(0xab, 32 << 20, 1 << 20)));
                assertThat(io.exitCode()).as("qemu-io during the attack: %s", io).isZero();
                assertThat(server.log()).doesNotContain("OutOfDirectMemoryError");
            } finally {
                for (Socket s : attackers) {
                    s.close();
                }
            }
        }
    }

    /**
     * --max-connections-per-client, --handshake-timeout and --stall-timeout: a client's 11th
     * connection is closed at once (one log line for many), idle connections and a WRITE that
     * stops half-way are closed, and nbdinfo is served afterwards.
     */
    @Test
    void capsAndTimeoutsHoldAgainstIdleRefusedAndStalledConnections() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), "512m", List.of(
                "--max-connections", "40", "--max-connections-per-client", "10",
                "--handshake-timeout", "3s", "--stall-timeout", "2s"))) {
            server.createVolume("v", "64M");
            // Not 127.0.0.1: the node advertises that address, and the cap per client spares nodes.
            InetAddress local = InetAddress.getByName("127.0.0.2");
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 10; i++) {
                    Socket s = connect(server.nbdPort(), local);
                    new DataInputStream(s.getInputStream()).readFully(new byte[18]); // the greeting
                    idle.add(s);
                }
                for (int i = 0; i < 30; i++) {
                    try (Socket refused = connect(server.nbdPort(), local)) {
                        assertThat(readOrEnd(refused)).as("first byte to the connection over the cap").isEqualTo(-1);
                    }
                }
                for (Socket s : idle) {
                    assertThat(readOrEnd(s)).as("idle connection after the handshake timeout").isEqualTo(-1);
                }
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
            assertThat(server.log().lines().filter(l -> l.contains("refusing NBD connection")).count())
                    .as("log lines for 30 refused connections").isBetween(1L, 2L);

            try (Socket stalled = exportName(server.nbdPort(), local, "v")) {
                DataOutputStream out = new DataOutputStream(stalled.getOutputStream());
                out.writeInt(REQUEST_MAGIC);
                out.writeShort(0);
                out.writeShort(1); // WRITE
                out.writeLong(1);
                out.writeLong(0);
                out.writeInt(32 << 20);
                out.write(new byte[(32 << 20) - 1]);
                out.flush();
                assertThat(readOrEnd(stalled)).as("connection after its WRITE stopped").isEqualTo(-1);
            }

            CommandResult info = Command.of("nbdinfo", server.nbdUri("v")).run();
            assertThat(info.exitCode()).as("nbdinfo afterwards: %s", info).isZero();
        }
    }

    /**
     * More connections than the process may open files (caps set above the limit): accepts fail
     * with EMFILE, and the node neither spins on them (Netty stops accepting for a second after
     * each failure) nor stops serving once they are gone.
     */
    @Test
    void acceptsThatRunOutOfFilesDoNotSpin() throws Exception {
        try (ServerProcess server = ServerProcess.start(dir.resolve("data"), "512m", List.of(
                "--max-connections", "1024", "--max-connections-per-client", "1024"), 400)) {
            server.createVolume("v", "16M");
            List<Socket> flood = new ArrayList<>();
            try {
                for (int i = 0; i < 600; i++) {
                    flood.add(connect(server.nbdPort(), InetAddress.getByName("127.0.0." + (2 + i / 100))));
                }
                await().atMost(Duration.ofSeconds(30)).until(() -> server.log().contains("Too many open files"));
                double before = cpuSeconds(server.pid());
                long start = System.nanoTime();
                await().pollDelay(Duration.ofSeconds(3)).until(() -> true); // a window to measure, not a wait for the server
                double used = cpuSeconds(server.pid()) - before;
                double window = (System.nanoTime() - start) / 1e9;
                System.out.printf("server CPU with 600 connections and 400 files: %.2f s in %.1f s%n", used, window);
                assertThat(used).as("CPU seconds in a %.1f s window (a spinning accept loop takes about one per second)",
                        window).isLessThan(window / 2);
            } finally {
                for (Socket s : flood) {
                    s.close();
                }
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(
                    Command.of("nbdinfo", server.nbdUri("v")).run().exitCode()).as("nbdinfo after the flood").isZero());
        }
    }

    private static double cpuSeconds(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime + stime, in clock ticks of 10 ms
    }

    private static Socket connect(int port, InetAddress from) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout(10_000);
        s.bind(new InetSocketAddress(from, 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
        return s;
    }

    /** A connection in transmission on {@code export}: fixed newstyle, NO_ZEROES, NBD_OPT_EXPORT_NAME. */
    private static Socket exportName(int port, InetAddress from, String export) throws IOException {
        Socket s = connect(port, from);
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        in.readFully(new byte[18]);
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        out.writeInt(3);
        out.writeLong(IHAVEOPT);
        out.writeInt(1);
        out.writeInt(name.length);
        out.write(name);
        out.flush();
        in.readFully(new byte[10]); // size and transmission flags
        return s;
    }

    /** The next byte, or -1 when the server has closed (a reset counts as closed). */
    private static int readOrEnd(Socket s) throws IOException {
        try {
            return s.getInputStream().read();
        } catch (SocketException e) {
            return -1;
        }
    }

    private static long rssMib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) >> 10;
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }
}
