/* test_sha256.c — SHA-256 against the FIPS 180-2 / NIST example vectors, one-shot, incremental and of a
 * file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/sha256.h"

static void check_hex(const char *msg, size_t n, const char *want)
{
    char got[65];
    ug_sha256_hex(msg, n, got);
    CHECK(strcmp(got, want) == 0, "sha256(%.20s...) = %s, want %s", msg, got, want);
}

int main(void)
{
    check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* 448-bit message: padding spills into a second block. */
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_hex(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    /* One million 'a': one-shot, then fed in awkward chunk sizes to exercise the buffering. */
    const char *mil = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    size_t n = 1000000;
    char *a = malloc(n);
    CHECK(a != NULL, "malloc");
    if (!a) return CHECK_DONE();
    memset(a, 'a', n);
    check_hex(a, n, mil);

    /* The file hash reads in blocks: a million 'a' (many blocks) and a missing file. */
    char path[] = "/tmp/ug_sha256_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, a, n) == (ssize_t)n && close(fd) == 0, "temporary file");
    char fh[65];
    int64_t bytes = 0;
    CHECK(ug_sha256_file(path, fh, &bytes) == 0 && strcmp(fh, mil) == 0 && bytes == (int64_t)n, "file: %s, %lld bytes",
          fh, (long long)bytes);
    unlink(path);
    CHECK(ug_sha256_file(path, fh, &bytes) == ENOENT && fh[0] == 0 && bytes == 0, "a missing file: ENOENT, no hash");

    static const size_t chunks[] = {1, 3, 63, 64, 65, 127, 1000};
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        ug_sha256_ctx c;
        ug_sha256_init(&c);
        for (size_t off = 0; off < n; off += chunks[k]) {
            size_t m = n - off < chunks[k] ? n - off : chunks[k];
            ug_sha256_update(&c, a + off, m);
        }
        uint8_t d[32];
        char hex[65];
        ug_sha256_final(&c, d);
        ug_sha256_to_hex(d, hex);
        CHECK(strcmp(hex, mil) == 0, "chunk %zu: %s", chunks[k], hex);
    }
    free(a);

    /* Lengths around the 55/56/64-byte padding boundaries agree between one-shot and byte-wise. */
    char buf[130];
    memset(buf, 'x', sizeof buf);
    for (size_t len = 50; len <= 130; len++) {
        uint8_t d1[32], d2[32];
        ug_sha256(buf, len, d1);
        ug_sha256_ctx c;
        ug_sha256_init(&c);
        for (size_t i = 0; i < len; i++) ug_sha256_update(&c, buf + i, 1);
        ug_sha256_final(&c, d2);
        CHECK(memcmp(d1, d2, 32) == 0, "len %zu mismatch", len);
    }
    return CHECK_DONE();
}
