package io.hablock.nbd.server;

import io.hablock.nbd.BlockDevice;
import io.hablock.nbd.protocol.Nbd;
import io.hablock.nbd.protocol.NbdError;
import io.hablock.nbd.protocol.NbdRequest;

/** The spec's rules for which requests a server must refuse, and with which error. */
final class RequestValidator {
    private RequestValidator() {
    }

    /** Why a request is refused. */
    record Rejection(NbdError error, String message) {
    }

    private static final int FUA = Nbd.CMD_FLAG_FUA;

    /** Returns null for a request the device may serve. */
    static Rejection validate(NbdRequest r, BlockDevice device, Session session, NbdServerConfig config) {
        return switch (r.type()) {
            case Nbd.CMD_READ -> {
                int allowed = FUA | (session.structuredReplies() ? Nbd.CMD_FLAG_DF : 0);
                Rejection bad = flags(r, allowed);
                if (bad == null && r.length() > config.maxRequestBytes()) {
                    bad = new Rejection(NbdError.EINVAL, "read of " + r.length() + " bytes exceeds the limit of "
                            + config.maxRequestBytes());
                }
                if (bad == null && r.hasFlag(Nbd.CMD_FLAG_DF) && r.length() > config.maxPayloadBytes()) {
                    // One chunk may not exceed the maximum payload, which the spec answers so.
                    bad = new Rejection(NbdError.EOVERFLOW, "read of " + r.length()
                            + " bytes cannot be sent unfragmented: it exceeds the maximum payload");
                }
                yield bad != null ? bad : range(r, device, NbdError.EINVAL);
            }
            case Nbd.CMD_WRITE -> writable(r, device, FUA, NbdError.ENOSPC);
            case Nbd.CMD_WRITE_ZEROES ->
                    writable(r, device, FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO, NbdError.ENOSPC);
            case Nbd.CMD_TRIM -> writable(r, device, FUA, NbdError.EINVAL);
            case Nbd.CMD_FLUSH -> {
                Rejection bad = flags(r, FUA);
                if (bad == null && (r.offset() != 0 || r.length() != 0)) {
                    bad = new Rejection(NbdError.EINVAL, "FLUSH must have offset and length 0");
                }
                yield bad;
            }
            case Nbd.CMD_CACHE -> {
                Rejection bad = flags(r, FUA);
                yield bad != null ? bad : range(r, device, NbdError.EINVAL);
            }
            case Nbd.CMD_BLOCK_STATUS -> {
                if (session.baseAllocationContext() == 0) {
                    yield new Rejection(NbdError.EINVAL, "BLOCK_STATUS without a selected metadata context");
                }
                Rejection bad = flags(r, FUA | Nbd.CMD_FLAG_REQ_ONE);
                if (bad == null && r.length() == 0) {
                    bad = new Rejection(NbdError.EINVAL, "BLOCK_STATUS of length 0");
                }
                yield bad != null ? bad : range(r, device, NbdError.EINVAL);
            }
            default -> new Rejection(NbdError.EINVAL, "unknown command " + r.type());
        };
    }

    private static Rejection writable(NbdRequest r, BlockDevice device, int allowedFlags, NbdError outOfRange) {
        Rejection bad = flags(r, allowedFlags);
        if (bad != null) {
            return bad;
        }
        if (device.isReadOnly()) {
            return new Rejection(NbdError.EPERM, "export is read-only");
        }
        return range(r, device, outOfRange);
    }

    private static Rejection flags(NbdRequest r, int allowed) {
        int extra = r.flags() & ~allowed;
        return extra == 0 ? null
                : new Rejection(NbdError.EINVAL, String.format("flags 0x%x are not valid for command %d", extra, r.type()));
    }

    private static Rejection range(NbdRequest r, BlockDevice device, NbdError error) {
        long end = r.end();
        if (end < 0 || end > device.size()) {
            return new Rejection(error, "request [" + Long.toUnsignedString(r.offset()) + ", +" + r.length()
                    + ") is beyond the end of the export (" + device.size() + " bytes)");
        }
        return null;
    }
}
