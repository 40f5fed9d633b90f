package io.hablock.cli.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hablock.cluster.ClusterClient;
import io.hablock.cluster.MountFence;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Docker volume plugin (the engine's plugin protocol: JSON over HTTP, {@code Plugin.Activate}
 * and {@code VolumeDriver.*}) served by a node, on a unix socket Docker finds by itself
 * ({@code /run/docker/plugins/hablock.sock}: the driver is called {@code hablock}) or on a TCP
 * address that a spec file names ({@code /etc/docker/plugins/hablock.spec}). Built on Netty's
 * HTTP codec; the calls, which mount file systems and wait for the cluster, run on threads of
 * their own, never on the network thread.
 */
public final class DockerPlugin implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DockerPlugin.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json";
    /** Docker waits up to 2 minutes for Create and Mount; an idle connection goes after that. */
    private static final int IDLE_SECONDS = 180;

    private final DockerVolumes volumes;
    private final EventLoopGroup group;
    private final ExecutorService calls;
    private final Channel channel;
    private final Path socket;
    private final String where;

    private DockerPlugin(DockerVolumes volumes, SocketAddress address, Path socket, String where) throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("the Docker plugin needs Netty's epoll transport (Linux): " + Epoll.unavailabilityCause());
        }
        this.volumes = volumes;
        this.socket = socket;
        this.where = where;
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("docker-plugin", true), EpollIoHandler.newFactory());
        this.calls = Executors.newFixedThreadPool(4, new DefaultThreadFactory("docker-call", true));
        ServerBootstrap b = new ServerBootstrap().group(group)
                .channel(socket != null ? EpollServerDomainSocketChannel.class : EpollServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new IdleStateHandler(0, 0, IDLE_SECONDS, TimeUnit.SECONDS) {
                            @Override
                            protected void channelIdle(ChannelHandlerContext ctx, io.netty.handler.timeout.IdleStateEvent e) {
                                ctx.close();
                            }
                        });
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Handler());
                    }
                });
        try {
            this.channel = b.bind(address).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully();
            calls.shutdownNow();
            throw new IOException("interrupted while binding the Docker plugin to " + where);
        } catch (Exception e) {
            group.shutdownGracefully();
            calls.shutdownNow();
            throw new IOException("cannot serve the Docker plugin on " + where + ": " + e.getMessage(), e);
        }
        if (socket != null) {
            log.info("Docker volume plugin '{}' serving on {}", driverName(), where);
        } else {
            log.info("Docker volume plugin serving on {} (its driver is named by the spec file that points there)", where);
        }
    }

    /**
     * Serves the plugin at {@code spec}: a unix socket path ({@code /run/docker/plugins/NAME.sock},
     * the driver then being NAME) or {@code tcp://HOST:PORT}.
     */
    public static DockerPlugin start(String spec, DockerVolumes volumes) throws IOException {
        if (spec.startsWith("tcp://")) {
            URI uri = URI.create(spec);
            if (uri.getHost() == null || uri.getPort() < 0) {
                throw new IllegalArgumentException("--docker-plugin tcp:// needs a host and a port: tcp://127.0.0.1:9191");
            }
            return new DockerPlugin(volumes, new InetSocketAddress(uri.getHost(), uri.getPort()), null, spec);
        }
        Path path = Path.of(spec).toAbsolutePath();
        if (!path.getFileName().toString().endsWith(".sock")) {
            throw new IllegalArgumentException("--docker-plugin must be a unix socket path ending in .sock "
                    + "(/run/docker/plugins/hablock.sock) or tcp://HOST:PORT");
        }
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path); // left by a node that did not stop cleanly: nothing listens on it
        DockerPlugin plugin = new DockerPlugin(volumes, new DomainSocketAddress(path.toFile()), path, path.toString());
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----")); // root (Docker) only
        return plugin;
    }

    /**
     * How often the volumes mounted here are checked: a claim lost with its session made again
     * ({@link DockerVolumes#reclaimLost}), a locality move ({@link DockerVolumes#checkLocality}).
     */
    private static final long MOUNT_CHECK_SECONDS = 5;

    /**
     * The plugin of a running node: a ZooKeeper session of its own (its mount claims live and die
     * with it, and its mounts' I/O runs only while that session is confirmed: {@link MountFence},
     * handed to the node with {@code gate}), the mounts this host kept across a restart claimed
     * again, and volumes mounted here and owned elsewhere moved here, when mounted and whenever a
     * check finds them elsewhere: those whose own setting says auto, and with {@code locality}
     * those that leave it to the node.
     *
     * @param endpoint the node's NBD address as a client on this host reaches it
     */
    public static AutoCloseable startForNode(String spec, ClusterClient cluster, String clusterName, String nodeId,
            String nodeName, InetSocketAddress endpoint, Path runDir, boolean locality, java.time.Duration sessionTimeout,
            java.util.function.Consumer<MountFence> gate) throws IOException {
        LocalityMover mover = new LocalityMover(cluster, nodeId, locality);
        MountFence fence = new MountFence(cluster, sessionTimeout);
        gate.accept(fence);
        DockerVolumes volumes = new DockerVolumes(cluster, clusterName, nodeId, nodeName, endpoint, runDir, mover, locality,
                fence);
        volumes.reclaim();
        java.util.concurrent.ScheduledExecutorService checks = java.util.concurrent.Executors
                .newSingleThreadScheduledExecutor(new io.netty.util.concurrent.DefaultThreadFactory("mount-check", true));
        fence.onReconnect(() -> checks.execute(volumes::reclaimLost));
        DockerPlugin plugin;
        try {
            plugin = start(spec, volumes);
        } catch (IOException | RuntimeException e) {
            checks.shutdownNow();
            fence.close();
            throw e;
        }
        checks.scheduleWithFixedDelay(() -> {
            volumes.reclaimLost();
            volumes.checkLocality();
        }, MOUNT_CHECK_SECONDS, MOUNT_CHECK_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
        return () -> {
            checks.shutdownNow();
            plugin.close();
            mover.close();
            fence.close();
            cluster.close();
        };
    }

    /** The driver name Docker knows the plugin by: the socket file's name without {@code .sock}. */
    public String driverName() {
        if (socket == null) {
            return "(the name of the spec file that points to " + where + ")";
        }
        String file = socket.getFileName().toString();
        return file.substring(0, file.length() - ".sock".length());
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        calls.shutdownNow();
        if (socket != null) {
            try {
                Files.deleteIfExists(socket);
            } catch (IOException e) {
                log.warn("cannot remove {}: {}", socket, e.getMessage());
            }
        }
    }

    /** One call: its answer (a JSON object with {@code Err} set on failure). */
    ObjectNode call(String method, JsonNode request) {
        ObjectNode reply = JSON.createObjectNode();
        String name = request.path("Name").asText("");
        try {
            switch (method) {
                case "/Plugin.Activate" -> reply.putArray("Implements").add("VolumeDriver");
                case "/VolumeDriver.Capabilities" -> reply.putObject("Capabilities").put("Scope", "global");
                case "/VolumeDriver.Create" -> {
                    Map<String, String> opts = new LinkedHashMap<>();
                    request.path("Opts").fields().forEachRemaining(e -> opts.put(e.getKey(), e.getValue().asText()));
                    volumes.create(requireName(name), opts);
                    reply.put("Err", "");
                }
                case "/VolumeDriver.Remove" -> {
                    volumes.remove(requireName(name));
                    reply.put("Err", "");
                }
                case "/VolumeDriver.Mount" -> {
                    reply.put("Mountpoint", volumes.mount(requireName(name), request.path("ID").asText("")));
                    reply.put("Err", "");
                }
                case "/VolumeDriver.Unmount" -> {
                    volumes.unmount(requireName(name), request.path("ID").asText(""));
                    reply.put("Err", "");
                }
                case "/VolumeDriver.Path" -> {
                    reply.put("Mountpoint", volumes.path(requireName(name)));
                    reply.put("Err", "");
                }
                case "/VolumeDriver.Get" -> {
                    DockerVolumes.Volume v = volumes.get(requireName(name));
                    ObjectNode volume = reply.putObject("Volume");
                    volume.put("Name", v.name());
                    volume.put("Mountpoint", v.mountpoint());
                    ObjectNode status = volume.putObject("Status");
                    v.status().forEach(status::put);
                    reply.put("Err", "");
                }
                case "/VolumeDriver.List" -> {
                    ArrayNode list = reply.putArray("Volumes");
                    for (DockerVolumes.Volume v : volumes.list()) {
                        list.addObject().put("Name", v.name()).put("Mountpoint", v.mountpoint());
                    }
                    reply.put("Err", "");
                }
                default -> reply.put("Err", "hablock's Docker plugin does not implement " + method);
            }
        } catch (Exception e) {
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            log.warn("docker: {} {} failed: {}", method, name, message);
            reply.removeAll();
            reply.put("Err", message);
        }
        return reply;
    }

    private static String requireName(String name) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException("the request names no volume");
        }
        return name;
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String method = request.uri();
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            String body = request.content().toString(StandardCharsets.UTF_8);
            ctx.channel().config().setAutoRead(false); // one call at a time per connection, answered in order
            calls.execute(() -> {
                ObjectNode reply;
                try {
                    reply = call(method, body.isBlank() ? JSON.createObjectNode() : JSON.readTree(body));
                } catch (IOException e) {
                    reply = JSON.createObjectNode().put("Err", "the request is not JSON: " + e.getMessage());
                }
                byte[] bytes = reply.toString().getBytes(StandardCharsets.UTF_8);
                FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.wrappedBuffer(bytes));
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, CONTENT_TYPE);
                HttpUtil.setContentLength(response, bytes.length);
                if (keepAlive) {
                    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                    ctx.writeAndFlush(response).addListener(f -> ctx.channel().config().setAutoRead(true));
                } else {
                    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
                }
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("docker plugin connection: {}", cause.toString());
            ctx.close();
        }
    }
}
