package io.hablock.nbd.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.hablock.nbd.DeviceError;
import org.junit.jupiter.api.Test;

class NbdErrorTest {

    @Test
    void everyDeviceErrorHasItsOwnNbdErrorAndComesBack() {
        for (DeviceError d : DeviceError.values()) {
            NbdError sent = NbdError.of(d);
            assertThat(sent.deviceError()).as(d.name()).isEqualTo(d);
            assertThat(NbdError.ofCode(sent.code())).isEqualTo(sent);
        }
        assertThat(NbdError.ofCode(14)).as("EFAULT is not an NBD error").isNull();
    }
}
