#!/bin/sh
# Shows that parser/ builds, tests, fuzzes and benchmarks alone (STYLE G2): copies parser/ and
# the files its unit tests, fuzz target and benchmark use into an empty tree, then compiles and
# links every one of them there with -I naming that tree only. An #include of core/ or net/, or
# a call into them, fails here instead of in a review. The fuzz target is linked with a two-line
# driver instead of libFuzzer (that needs clang; make fuzz-smoke runs the real thing) and run
# once on a minimal request. -O0 keeps it to a few seconds; make test runs it.
# Usage: test/parser_alone.sh OUTDIR      (from the repository root; CC and WARN from make)
# shellcheck disable=SC2086 # $cc, $flags and $lib are split into words on purpose
set -eu
out=${1:?usage: parser_alone.sh OUTDIR}
cc=${CC:-cc}
flags="-std=c11 -D_GNU_SOURCE -O0 ${WARN:--Wall -Wextra -Werror} -I."

rm -rf "$out"
mkdir -p "$out/src/test/fuzz" "$out/src/bench" "$out/obj" "$out/bin"
cp -R parser "$out/src/"
cp test/test_sip_*.c test/guard.c test/guard.h test/sip_check.c test/sip_check.h \
    test/sip_msg_diff.h "$out/src/test/"
cp test/fuzz/fuzz_sip_parse.c "$out/src/test/fuzz/"
cp bench/bench_parse.c "$out/src/bench/"
cat >"$out/src/test/fuzz/driver.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(void)
{
    static const char m[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                            "Call-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";
    return LLVMFuzzerTestOneInput((const uint8_t *)m, sizeof(m) - 1);
}
EOF

cd "$out/src"
o=../obj
b=../bin
cc_obj() { # source -> ../obj/<path with / as _>.o
    $cc $flags -c -o "$o/$(echo "${1%.c}" | tr / _).o" "$1"
}
for f in parser/*.c parser/tools/*.c test/*.c test/fuzz/*.c bench/bench_parse.c; do
    cc_obj "$f"
done
lib="$o/parser_sip_*.o"
$cc -o $b/viaduct-parse $o/parser_tools_viaduct_parse.o $lib
$cc -o $b/bench-parse $o/bench_bench_parse.o $lib
$cc -o $b/fuzz_sip_parse $o/test_fuzz_fuzz_sip_parse.o $o/test_fuzz_driver.o $lib
for t in test/test_sip_*.c; do
    n=$(basename "$t" .c)
    $cc -o "$b/$n" "$o/test_$n.o" $o/test_guard.o $o/test_sip_check.o $lib -lcmocka
done
$b/fuzz_sip_parse
echo "parser-alone: parser/, its tests, fuzz target and benchmark build with nothing else"
