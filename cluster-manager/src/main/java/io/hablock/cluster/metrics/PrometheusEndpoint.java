package io.hablock.cluster.metrics;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a node's {@link NodeMetrics} to Prometheus over HTTP, on a port of its own:
 * {@code GET /metrics} is the text exposition format 0.0.4, {@code GET /} a pointer to it,
 * anything else 404 (or 405 for another method). One Netty event loop of its own serves every
 * scraper at once, none waiting for another: a client that sends half a request, or reads its
 * answer slowly, holds only its own connection, and is dropped after {@link #READ_TIMEOUT}
 * without a byte from it. The node's NBD and replication threads are never used.
 */
public final class PrometheusEndpoint implements AutoCloseable {
    /** A connection silent this long (in the middle of a request or between two) is closed. */
    public static final Duration READ_TIMEOUT = Duration.ofSeconds(10);

    private static final Logger log = LoggerFactory.getLogger(PrometheusEndpoint.class);
    private static final int MAX_REQUEST_BODY = 64 * 1024;
    private static final String TEXT = "text/plain; charset=utf-8";

    private static final byte[] INDEX = ("hablock node metrics: GET /metrics"
            + " (Prometheus text format 0.0.4)\n").getBytes(StandardCharsets.UTF_8);

    private final EventLoopGroup group;
    private final Channel server;
    private final AtomicBoolean closed = new AtomicBoolean();

    private PrometheusEndpoint(EventLoopGroup group, Channel server) {
        this.group = group;
        this.server = server;
    }

    /**
     * Listens on {@code address} (port 0 picks a free one) and serves until {@link #close()}.
     *
     * @throws IOException with a one-line message naming the address when it cannot listen
     */
    public static PrometheusEndpoint start(InetSocketAddress address, NodeMetrics metrics) throws IOException {
        return start(address, metrics, READ_TIMEOUT);
    }

    /** Like {@link #start(InetSocketAddress, NodeMetrics)}, silent connections closed after {@code readTimeout}. */
    static PrometheusEndpoint start(InetSocketAddress address, NodeMetrics metrics, Duration readTimeout)
            throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("metrics-http", true),
                NioIoHandler.newFactory());
        ServerBootstrap bootstrap = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(
                                new ReadTimeoutHandler(readTimeout.toMillis(), TimeUnit.MILLISECONDS),
                                new HttpServerCodec(),
                                new HttpServerKeepAliveHandler(),
                                new HttpObjectAggregator(MAX_REQUEST_BODY),
                                new Handler(metrics));
                    }
                });
        Channel server;
        try {
            server = bootstrap.bind(address).syncUninterruptibly().channel();
        } catch (Exception e) { // Netty rethrows the bind's checked exception unchecked
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            String reason = e instanceof BindException && String.valueOf(e.getMessage())
                    .toLowerCase(Locale.ROOT).contains("in use") ? "address already in use" : String.valueOf(e.getMessage());
            throw new IOException("cannot listen on " + address.getHostString() + ":"
                    + address.getPort() + " for metrics: " + reason, e);
        }
        PrometheusEndpoint endpoint = new PrometheusEndpoint(group, server);
        log.info("Serving metrics on http://{}:{}/metrics",
                endpoint.localAddress().getHostString(), endpoint.localAddress().getPort());
        return endpoint;
    }

    /** The address actually listened on, with the chosen port when 0 was asked for. */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) server.localAddress();
    }

    /** Stops listening and drops open connections at once; a scrape in flight is cut. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            server.close().syncUninterruptibly();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    /** Answers each complete request on the event loop; rendering the registry takes no I/O wait. */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final NodeMetrics metrics;

        Handler(NodeMetrics metrics) {
            this.metrics = metrics;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (!request.decoderResult().isSuccess()) {
                FullHttpResponse bad = response(HttpResponseStatus.BAD_REQUEST, TEXT,
                        "bad request\n".getBytes(StandardCharsets.UTF_8));
                HttpUtil.setKeepAlive(bad, false);
                ctx.writeAndFlush(bad);
                return;
            }
            String path = new QueryStringDecoder(request.uri()).path();
            FullHttpResponse response;
            if (!path.equals("/") && !path.equals("/metrics")) {
                response = response(HttpResponseStatus.NOT_FOUND, TEXT,
                        ("not found: " + path + " (try /metrics)\n").getBytes(StandardCharsets.UTF_8));
            } else if (!request.method().equals(HttpMethod.GET)) {
                response = response(HttpResponseStatus.METHOD_NOT_ALLOWED, TEXT,
                        "only GET is supported\n".getBytes(StandardCharsets.UTF_8));
                response.headers().set(HttpHeaderNames.ALLOW, "GET");
            } else if (path.equals("/")) {
                response = response(HttpResponseStatus.OK, TEXT, INDEX);
            } else {
                response = metrics();
            }
            HttpUtil.setKeepAlive(response, HttpUtil.isKeepAlive(request));
            ctx.writeAndFlush(response);
        }

        private FullHttpResponse metrics() {
            try {
                String text = PrometheusText.render(metrics.registry(), metrics::help);
                return response(HttpResponseStatus.OK, PrometheusText.CONTENT_TYPE, text.getBytes(StandardCharsets.UTF_8));
            } catch (RuntimeException e) {
                log.warn("Cannot render metrics: {}", e.toString());
                return response(HttpResponseStatus.INTERNAL_SERVER_ERROR, TEXT,
                        ("cannot render metrics: " + e + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }

        private static FullHttpResponse response(HttpResponseStatus status, String contentType, byte[] body) {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
            r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            return r;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof ReadTimeoutException) {
                log.debug("Metrics client {} silent for too long; closed", ctx.channel().remoteAddress());
            } else {
                log.debug("Metrics client {} went away: {}", ctx.channel().remoteAddress(), cause.toString());
            }
            ctx.close();
        }
    }
}
