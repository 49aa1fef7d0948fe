/* test_shown.c — how bytes of a file or the database are shown in messages (base/util.c): ug_shown and
 * ug_shown_text by table (printable ASCII and well-formed UTF-8 kept; C0, DEL, C1 controls, broken,
 * overlong and surrogate UTF-8, NUL as \xNN; the quote only by ug_shown; cutting with "..."), and
 * ug_error_set / ug_msg_clean making every message one printable line, idempotently. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "unigfn/host/util.h"
#include "unigfn/status.h"

static void shown_is(const char *in, size_t n, size_t cap, bool quote, const char *want) {
    char out[256];
    memset(out, 'Z', sizeof out);
    const char *r = quote ? ug_shown(in, n, out, cap) : ug_shown_text(in, n, out, cap);
    CHECK(r == out && strcmp(out, want) == 0 && strlen(out) < cap, "shown(%zu bytes, cap %zu): got '%s', want '%s'",
          n == SIZE_MAX ? strlen(in) : n, cap, out, want);
}

int main(void) {
    const size_t ALL = SIZE_MAX;
    shown_is("forward", ALL, 64, true, "forward");
    shown_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", ALL, 64, true, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    shown_is("\x1b[2J", ALL, 64, true, "\\x1b[2J");
    shown_is("a\tb\nc\r\x7f", ALL, 64, true, "a\\x09b\\x0ac\\x0d\\x7f");
    shown_is("\xc2\x9b" "31m", ALL, 64, true, "\\xc2\\x9b31m");              /* C1 CSI, encoded */
    shown_is("\xc2\xa0", ALL, 64, true, "\xc2\xa0");                          /* U+00A0 is printable */
    shown_is("\xff\xfe", ALL, 64, true, "\\xff\\xfe");                        /* not UTF-8 */
    shown_is("\xc0\xaf", ALL, 64, true, "\\xc0\\xaf");                        /* overlong '/' */
    shown_is("\xe0\x80\xaf", ALL, 64, true, "\\xe0\\x80\\xaf");               /* overlong, 3 bytes */
    shown_is("\xed\xa0\x80", ALL, 64, true, "\\xed\\xa0\\x80");               /* a surrogate */
    shown_is("\xf4\x90\x80\x80", ALL, 64, true, "\\xf4\\x90\\x80\\x80");      /* past U+10FFFF */
    shown_is("\xe2\x82", ALL, 64, true, "\\xe2\\x82");                        /* cut sequence */
    shown_is("it's", ALL, 64, true, "it\\x27s");
    shown_is("it's", ALL, 64, false, "it's");
    shown_is("a\0b", 3, 64, true, "a\\x00b");                                 /* n bytes, NUL included */
    shown_is("abcdef", 3, 64, true, "abc");
    shown_is("", ALL, 64, true, "");
    shown_is(NULL, ALL, 64, true, "(null)");
    /* cutting: all of it when it fits, else what fits before "..." (never half an escape) */
    shown_is("abcdefghi", ALL, 10, true, "abcdefghi");
    shown_is("abcdefghij", ALL, 10, true, "abcdef...");
    shown_is("\x01\x02\x03", ALL, 10, true, "\\x01...");
    shown_is("ab\xc3\xa9\xc3\xa9\xc3\xa9xyz", ALL, 10, true, "ab\xc3\xa9\xc3\xa9...");

    /* every message: one printable line whatever its parts held, and cleaning twice changes nothing */
    ug_error e = {0};
    ug_error_set(&e, UG_ERR_IO, "checkpoint %s: group '%s'", "x.bin", "f\x1b[2J\n\xc2\x9b\xff");
    CHECK(strcmp(e.msg, "checkpoint x.bin: group 'f\\x1b[2J\\x0a\\xc2\\x9b\\xff'") == 0, "ug_error_set: %s", e.msg);
    char again[UG_ERRMSG_MAX];
    snprintf(again, sizeof again, "%s", e.msg);
    ug_msg_clean(again, sizeof again);
    CHECK(strcmp(again, e.msg) == 0, "ug_msg_clean is idempotent: %s", again);
    ug_error ok = {0};
    ug_error_set(&ok, UG_ERR_SPEC, "tests/x.yaml:3:1: model.hidden: expected 'a list', got caf\xc3\xa9");
    CHECK(strcmp(ok.msg, "tests/x.yaml:3:1: model.hidden: expected 'a list', got caf\xc3\xa9") == 0,
          "a clean message is left as it is: %s", ok.msg);
    /* a message escaped past the buffer is cut with "...", still one line */
    char big[UG_ERRMSG_MAX];
    memset(big, 0x1b, sizeof big - 1);
    big[sizeof big - 1] = 0;
    ug_error cut = {0};
    ug_error_set(&cut, UG_ERR_IO, "%s", big);
    size_t n = strlen(cut.msg);
    CHECK(n < UG_ERRMSG_MAX && n >= 3 && strcmp(cut.msg + n - 3, "...") == 0 && strncmp(cut.msg, "\\x1b\\x1b", 8) == 0,
          "cut: %zu bytes, ends '%s'", n, n >= 3 ? cut.msg + n - 3 : cut.msg);
    return CHECK_DONE();
}
