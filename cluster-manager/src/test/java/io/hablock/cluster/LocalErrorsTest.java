package io.hablock.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nativeio.Errno;
import io.hablock.nativeio.NativeIOException;
import io.hablock.nbd.DeviceError;
import io.hablock.nbd.DeviceException;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class LocalErrorsTest {

    @Test
    void errnosTheClientCanActOnBecomeDeviceErrors() {
        assertThat(mapped(Errno.ENOSPC)).isEqualTo(DeviceError.NO_SPACE);
        assertThat(mapped(Errno.EDQUOT)).isEqualTo(DeviceError.NO_SPACE);
        assertThat(mapped(Errno.EOPNOTSUPP)).isEqualTo(DeviceError.NOT_SUPPORTED);
        assertThat(mapped(Errno.EROFS)).isEqualTo(DeviceError.PERMISSION);
        assertThat(mapped(Errno.EACCES)).isEqualTo(DeviceError.PERMISSION);
        assertThat(mapped(Errno.EINVAL)).isEqualTo(DeviceError.INVALID);
        assertThat(mapped(Errno.ENOMEM)).isEqualTo(DeviceError.NO_MEMORY);
    }

    @Test
    void otherFailuresStayWhatTheyWere() {
        IOException eio = NativeIOException.of("fdatasync", Errno.EIO);
        assertThat(LocalErrors.toDevice(eio)).isSameAs(eio);
        IOException plain = new IOException("disk gone");
        assertThat(LocalErrors.toDevice(plain)).isSameAs(plain);
    }

    @Test
    void aFailedFutureFailsWithTheDeviceError() {
        IOException full = NativeIOException.of("fallocate(ZERO_RANGE)", Errno.ENOSPC);
        CompletableFuture<Void> f = LocalErrors.toDevice(CompletableFuture.failedFuture(new CompletionException(full)));
        Throwable cause = f.handle((ok, failure) -> failure instanceof CompletionException c ? c.getCause() : failure).join();
        assertThat(cause).isInstanceOf(DeviceException.class).hasCause(full);
        assertThat(((DeviceException) cause).error()).isEqualTo(DeviceError.NO_SPACE);
        assertThat(LocalErrors.toDevice(CompletableFuture.completedFuture("ok")).join()).isEqualTo("ok");
    }

    private static DeviceError mapped(Errno errno) {
        IOException e = LocalErrors.toDevice(NativeIOException.of("fallocate", errno));
        assertThat(e).as(errno.name()).isInstanceOf(DeviceException.class);
        return ((DeviceException) e).error();
    }
}
