package io.hablock.cluster;

import io.netty.handler.ipfilter.IpFilterRuleType;
import io.netty.handler.ipfilter.IpSubnetFilterRule;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Which client addresses may attach a volume or use a node: address blocks in CIDR notation
 * ({@code 10.0.0.0/8}, {@code 192.168.1.7}, {@code fd00::/8}), or anyone when empty.
 */
public final class AllowList {
    /** No restriction. */
    public static final AllowList ANYONE = new AllowList(List.of());

    private final List<String> blocks;
    private final List<IpSubnetFilterRule> rules;

    private AllowList(List<String> blocks) {
        this.blocks = List.copyOf(blocks);
        List<IpSubnetFilterRule> r = new ArrayList<>();
        for (String b : blocks) {
            int slash = b.indexOf('/');
            r.add(new IpSubnetFilterRule(b.substring(0, slash), Integer.parseInt(b.substring(slash + 1)),
                    IpFilterRuleType.ACCEPT));
        }
        this.rules = List.copyOf(r);
    }

    /**
     * {@code any} (or an empty text) for anyone, else comma-separated {@code ADDRESS[/PREFIX]}.
     *
     * @throws IllegalArgumentException (one line) for anything else
     */
    public static AllowList parse(String spec) {
        String s = spec == null ? "" : spec.strip();
        if (s.isEmpty() || s.equalsIgnoreCase("any")) {
            return ANYONE;
        }
        List<String> blocks = new ArrayList<>();
        for (String part : s.split(",")) {
            blocks.add(canonical(part.strip()));
        }
        return new AllowList(blocks);
    }

    /** From blocks already in canonical form (a stored record). */
    public static AllowList of(List<String> blocks) {
        return blocks == null || blocks.isEmpty() ? ANYONE : parse(String.join(",", blocks));
    }

    private static String canonical(String block) {
        int slash = block.indexOf('/');
        String address = slash < 0 ? block : block.substring(0, slash);
        boolean v4 = NetUtil.isValidIpV4Address(address);
        if (!v4 && !NetUtil.isValidIpV6Address(address)) {
            throw new IllegalArgumentException("'" + block + "' is not an IP address or block (e.g. 10.0.0.0/8, 192.168.1.7, "
                    + "fd00::/8, or 'any')");
        }
        int max = v4 ? 32 : 128;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(block.substring(slash + 1));
            } catch (NumberFormatException e) {
                prefix = -1;
            }
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException("'" + block + "': the prefix length must be 0 to " + max);
            }
        }
        return NetUtil.bytesToIpAddress(NetUtil.createByteArrayFromIpAddressString(address)) + "/" + prefix;
    }

    public boolean isAnyone() {
        return blocks.isEmpty();
    }

    public boolean allows(InetAddress address) {
        if (blocks.isEmpty()) {
            return true;
        }
        InetSocketAddress a = new InetSocketAddress(address, 0);
        return rules.stream().anyMatch(r -> r.matches(a));
    }

    /** The blocks, in canonical form; empty for anyone. */
    public List<String> blocks() {
        return blocks;
    }

    @Override
    public String toString() {
        return blocks.isEmpty() ? "any" : String.join(",", blocks);
    }
}
