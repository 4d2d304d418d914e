/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <signal.h>

#include "daemon-log.h"
#include "manager.h"
#include "parse-util.h"

static void help(void)
{
        printf("chvd — the chv control plane: every VM of this host as a D-Bus object\n\n"
               "Usage: chvd [OPTIONS]\n\n"
               "  --state-dir DIR        VM definitions (default " CHV_STATE_DIR ")\n"
               "  --runtime-dir DIR      running VMs (default " CHV_RUNTIME_DIR ")\n"
               "  --slice SLICE          the slice of the VMs' scopes (default machine.slice)\n"
               "  --require-scope        refuse to boot VMs where no systemd manager makes scopes\n"
               "  --vmm PATH             the chv-vmm to run (default " CHV_VMM_PATH ")\n"
               "  --stop-timeout SEC     how long Shutdown waits before it kills (default 30)\n"
               "  --log-target TARGET    auto, journal or console (default auto)\n"
               "  --log-level LEVEL      0..7, or -v for 7 (default 6)\n"
               "  -v                     debug messages\n"
               "  -V, --version          print the version\n"
               "  -h, --help             this help\n\n"
               "The system bus is DBUS_SYSTEM_BUS_ADDRESS where that is set. See chvd(8).\n");
}

static int set_string(char **field, const char *value)
{
        char *s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

/* Returns 1 to run, 0 to exit successfully, negative on error. */
static int parse_args(int argc, char **argv, ManagerConfig *c, LogTarget *target, int *level)
{
        enum {
                ARG_STATE_DIR = 0x100,
                ARG_RUNTIME_DIR,
                ARG_SLICE,
                ARG_REQUIRE_SCOPE,
                ARG_VMM,
                ARG_STOP_TIMEOUT,
                ARG_LOG_TARGET,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "slice", required_argument, NULL, ARG_SLICE },
                { "require-scope", no_argument, NULL, ARG_REQUIRE_SCOPE },
                { "vmm", required_argument, NULL, ARG_VMM },
                { "stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        uint32_t u;
        int opt, r = 0;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":vVh", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_STATE_DIR:
                case ARG_RUNTIME_DIR:
                        if (optarg[0] != '/')
                                return log_error_errno(EINVAL, "--%s needs an absolute path, not \"%s\"",
                                                       opt == ARG_STATE_DIR ? "state-dir" : "runtime-dir", optarg);
                        r = set_string(opt == ARG_STATE_DIR ? &c->state_dir : &c->runtime_dir, optarg);
                        break;
                case ARG_SLICE:
                        if (strlen(optarg) < 7 || !streq(optarg + strlen(optarg) - 6, ".slice") ||
                            strchr(optarg, '/'))
                                return log_error_errno(EINVAL, "--slice needs a slice unit name, not \"%s\"", optarg);
                        r = set_string(&c->slice, optarg);
                        break;
                case ARG_REQUIRE_SCOPE:
                        c->require_scope = true;
                        break;
                case ARG_VMM:
                        r = set_string(&c->vmm_path, optarg);
                        break;
                case ARG_STOP_TIMEOUT:
                        if (parse_u32(optarg, &u) < 0 || u == 0 || u > 3600)
                                return log_error_errno(EINVAL, "--stop-timeout needs 1..3600 seconds, not \"%s\"",
                                                       optarg);
                        c->stop_timeout_usec = (uint64_t) u * 1000000u;
                        break;
                case ARG_LOG_TARGET:
                        *target = log_target_from_string(optarg);
                        if (*target < 0)
                                return log_error_errno(EINVAL, "--log-target is auto, journal or console, not \"%s\"",
                                                       optarg);
                        break;
                case ARG_LOG_LEVEL:
                        if (parse_u32(optarg, &u) < 0 || u > LOG_DEBUG)
                                return log_error_errno(EINVAL, "--log-level needs 0..7, not \"%s\"", optarg);
                        *level = (int) u;
                        break;
                case 'v':
                        *level = LOG_DEBUG;
                        break;
                case 'V':
                        printf("chvd v%s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                case ':':
                        return log_error_errno(EINVAL, "option '%s' needs a value", argv[optind - 1]);
                default:
                        return log_error_errno(EINVAL, "unknown option '%s' (see --help)", argv[optind - 1]);
                }
                if (r < 0)
                        return log_oom();
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "unexpected argument '%s' (see --help)", argv[optind]);
        return 1;
}

int main(int argc, char **argv)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerConfig config = { .stop_timeout_usec = 30 * 1000000ull };
        LogTarget target = LOG_TARGET_AUTO;
        int level = LOG_INFO, r;
        sigset_t mask;

        daemon_log_setup(LOG_TARGET_CONSOLE, LOG_INFO);
        if (set_string(&config.state_dir, CHV_STATE_DIR) < 0 || set_string(&config.runtime_dir, CHV_RUNTIME_DIR) < 0 ||
            set_string(&config.slice, "machine.slice") < 0 || set_string(&config.vmm_path, CHV_VMM_PATH) < 0) {
                manager_config_done(&config);
                return log_oom(), EXIT_FAILURE;
        }
        r = parse_args(argc, argv, &config, &target, &level);
        if (r <= 0) {
                manager_config_done(&config);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        daemon_log_setup(target, level);

        /* Signals the event loop handles, and SIGCHLD for the workers' pidfds, must be blocked. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        /* A console client that goes away must not end chvd. */
        signal(SIGPIPE, SIG_IGN);

        r = manager_new(&config, &m);
        if (r < 0) {
                manager_config_done(&config);
                return log_error_errno(r, "Cannot set up: %m"), EXIT_FAILURE;
        }
        r = manager_load(m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_connect_bus(m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
