/*
 * vb_main.c - viaduct-bench: the benchmark harness of viaduct.
 *
 *   viaduct-bench emulate   emulated backends (registrars, call servers)
 *   viaduct-bench load      a SIP load generator with latency histograms
 *   viaduct-bench relay     the null relay: forwards without reading
 *   viaduct-bench run       backends + one system under test + load, medians, JSON, plot
 *   viaduct-bench compare   the same against several systems, with ratios
 *   viaduct-bench spray     requests from random spoofed sources (raw socket)
 *
 * Each subcommand's --help lists its options. Everything talks UDP on the
 * addresses it is given (127.0.0.1 by default); run and compare start and
 * stop their systems by PID. bench/demo.sh and bench/run.sh show typical use.
 */
#include <stdio.h>
#include <string.h>

#include "bench/vb_emu.h"
#include "bench/vb_load.h"
#include "bench/vb_relay.h"
#include "bench/vb_run.h"
#include "bench/vb_spray.h"

static const char usage[] =
    "usage: viaduct-bench COMMAND [options]     (COMMAND --help for its options)\n"
    "  emulate   N emulated SIP backends on consecutive UDP ports\n"
    "  load      offer a scenario (register, call, options, message, mixed) to a forwarder\n"
    "  relay     the null relay: the cheapest UDP forwarder, for comparison\n"
    "  run       backends + a system under test + load: throughput, loss, latency,\n"
    "            messages per CPU-second; medians of K runs; JSON and PNG\n"
    "  compare   run against several systems (viaduct, kamailio, relay, cmd:...) with ratios\n"
    "  spray     requests from random spoofed IPv4 sources (raw socket; CAP_NET_RAW)\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (strcmp(cmd, "emulate") == 0)
        return vb_emu_main(argc, argv);
    if (strcmp(cmd, "load") == 0)
        return vb_load_main(argc, argv);
    if (strcmp(cmd, "relay") == 0)
        return vb_relay_main(argc, argv);
    if (strcmp(cmd, "run") == 0)
        return vb_run_main(argc, argv, false);
    if (strcmp(cmd, "compare") == 0)
        return vb_run_main(argc, argv, true);
    if (strcmp(cmd, "spray") == 0)
        return vb_spray_main(argc, argv);
    fprintf(stderr, "viaduct-bench: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
