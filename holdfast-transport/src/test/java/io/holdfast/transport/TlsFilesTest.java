package io.holdfast.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading TLS material: clear errors that never carry key material. */
class TlsFilesTest {
    @TempDir
    Path dir;

    private static String pem(byte[] der) {
        return "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(der)
                + "\n-----END PRIVATE KEY-----\n";
    }

    @Test
    void aPrivateKeyIsReadAndItsContentNeverAppearsInErrors() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair pair = g.generateKeyPair();
        String good = pem(pair.getPrivate().getEncoded());
        Path key = Files.writeString(dir.resolve("k.key"), good);
        assertThat(TlsFiles.readPrivateKey(key).getEncoded())
                .isEqualTo(pair.getPrivate().getEncoded());

        byte[] corrupt = pair.getPrivate().getEncoded();
        corrupt[corrupt.length / 2] ^= 0x5a;
        corrupt[3] ^= 0x77;
        String body = Base64.getMimeEncoder().encodeToString(corrupt);
        Files.writeString(key, pem(corrupt));
        assertThatThrownBy(() -> TlsFiles.readPrivateKey(key))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(key.toString())
                .satisfies(e -> assertThat(e.getMessage())
                        .doesNotContain(body.substring(0, 40))
                        .doesNotContain(body.substring(body.length() - 40)));

        Files.writeString(key, good.replace("BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY"));
        assertThatThrownBy(() -> TlsFiles.readPrivateKey(key))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("PKCS#8")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(good.substring(30, 80)));
    }

    @Test
    void missingFilesAreNamed() {
        assertThatThrownBy(() -> TlsFiles.load(dir, "client"))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("ca.crt")
                .hasMessageContaining("client.key");
    }

    @Test
    void aClientWithoutCertificateIsToldHowToGetOne() {
        assertThatThrownBy(() -> TransportSecurity.forClient(Map.of(TransportSecurity.TLS_OPTION, dir)))
                .hasMessageContaining("holdfast cert client")
                .hasMessageContaining(dir.toString());
    }

    @Test
    void roleNamesAreExact() {
        assertThat(Role.ofUnit("admin")).isEqualTo(Role.ADMIN);
        assertThat(Role.CLIENT.privileged()).isFalse();
        assertThat(Role.NODE.privileged()).isTrue();
        assertThatThrownBy(() -> Role.ofUnit("Admin")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Role.ofUnit(null)).isInstanceOf(IllegalArgumentException.class);
    }
}
